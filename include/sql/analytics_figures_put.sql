-- Keep a cohort's figures for the state they describe (one row per cohort, replaced).
INSERT INTO page_figures (cohort_id, mark, figures, made_at) VALUES (:cohort_id, :mark, :figures, :made_at)
ON CONFLICT (cohort_id) DO UPDATE SET mark = excluded.mark, figures = excluded.figures, made_at = excluded.made_at

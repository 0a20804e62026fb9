UPDATE email_ledger
SET status = 'drafted', draft_id = :draft_id, updated_at = :now
WHERE email_key = :email_key AND owner = :owner AND status IN ('claimed', 'drafted')

INSERT INTO ledger_events (email_key, at, event, run_id, detail)
VALUES (:email_key, :at, :event, :run_id, :detail)
ON CONFLICT (email_key, at, event) DO NOTHING

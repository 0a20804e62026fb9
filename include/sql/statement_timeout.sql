-- PostgreSQL only: cut off each statement of this transaction after :ms milliseconds (set_config
-- with is_local: it ends with the transaction, so a pooled connection does not keep it).
SELECT set_config('statement_timeout', :ms, true)

-- Consent to marketing emails, when the signup export records it (a consent column): 1 yes,
-- 0 no; NULL when the export has no such column. Marketing emails go only to a 1.
ALTER TABLE signups ADD COLUMN consent INTEGER;
ALTER TABLE customer_status ADD COLUMN consent INTEGER;

-- Customers written to in their language (docs/journeys/languages.md): each customer's language
-- as the run read it (normalised: 'de', or NULL for none), and the language each email was
-- entered in, so a retry and the instructor's resend render it in the same language.
ALTER TABLE customer_status ADD COLUMN language TEXT;
ALTER TABLE email_ledger ADD COLUMN language TEXT;

-- Why an email was asked for by hand (a resend from the trigger form): the instructor's reason.
ALTER TABLE email_ledger ADD COLUMN requested_reason TEXT;

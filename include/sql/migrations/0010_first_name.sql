-- A customer's first name, when the signup export has one (a first_name column, or first and
-- last name columns): their emails greet them by it ("Hi Ann,"), not by their whole name.
ALTER TABLE signups ADD COLUMN first_name TEXT;
ALTER TABLE customer_status ADD COLUMN first_name TEXT;

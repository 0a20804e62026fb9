-- Make the salt once; a concurrent first erasure keeps the one made first.
INSERT INTO privacy_salt (id, salt) VALUES (1, :salt) ON CONFLICT (id) DO NOTHING

-- Make the secret once; a concurrent first run keeps the one made first.
INSERT INTO reference_secret (id, secret) VALUES (1, :secret) ON CONFLICT (id) DO NOTHING

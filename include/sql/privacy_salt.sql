-- This database's salt for hashing erased addresses.
SELECT salt FROM privacy_salt WHERE id = 1

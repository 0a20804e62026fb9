-- Which guards a run tripped, and which the instructor released for it (JSON lists).
ALTER TABLE runs ADD COLUMN guards TEXT;

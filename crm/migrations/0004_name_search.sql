-- Name search reads a stored lower-case copy of the name: the search no longer lower-cases every
-- candidate row at query time (about 3 µs a row for Cyrillic), and the trigram index covers it.
ALTER TABLE customers ADD COLUMN name_search text GENERATED ALWAYS AS (lower(name)) STORED;
DROP INDEX customers_name_trgm;
CREATE INDEX customers_name_search_trgm ON customers USING gin (name_search gin_trgm_ops);

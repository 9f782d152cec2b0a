-- Search the way Russian speakers type: «Семён» and «Семен» are the same name (ё is mostly written е),
-- and a number is found by its last digits («45-67-890»), as operators read it off a note.
ALTER TABLE customers DROP COLUMN name_search;
ALTER TABLE customers ADD COLUMN name_search text
    GENERATED ALWAYS AS (translate(lower(name), 'ё', 'е')) STORED;
CREATE INDEX customers_name_search_trgm ON customers USING gin (name_search gin_trgm_ops);

-- Last-digits lookups read the reversed number as a prefix: an ordinary b-tree range scan.
CREATE INDEX customer_phones_reversed ON customer_phones (reverse(e164) text_pattern_ops);

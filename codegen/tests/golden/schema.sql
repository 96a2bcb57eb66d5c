-- The small schema of the golden test: every type the generator maps, a
-- view that converts time, ALTER TABLE ... ADD COLUMN, and statements it
-- skips knowingly.

CREATE FUNCTION ms(ts timestamptz) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN (extract(epoch FROM ts) * 1000)::bigint;

CREATE TABLE box (
    id uuid PRIMARY KEY,
    label varchar(40) COLLATE "C" NOT NULL,
    note text,
    weight double precision,
    slots integer NOT NULL DEFAULT 0,
    tags text[],
    blob bytea,
    doc json,
    made_at timestamptz NOT NULL,
    CONSTRAINT box_label_key UNIQUE (label)
);

CREATE INDEX box_note_idx ON box (note);
ALTER TABLE box ADD COLUMN big bigint;
ALTER TABLE box ADD COLUMN IF NOT EXISTS flag boolean NOT NULL DEFAULT false;
ALTER TABLE box SET (fillfactor = 90);
COMMENT ON TABLE box IS 'boxes; with a semicolon in a string';

-- sqlgen: notnull has_note
CREATE VIEW box_v AS
SELECT b.id, b.label, b.note, (b.note IS NOT NULL)::boolean AS has_note, b.weight, b.slots,
       b.tags, b.blob, b.doc, ms(b.made_at)::bigint AS made_at, b.big, b.flag
FROM box b;

CREATE TABLE crate (id uuid PRIMARY KEY, kind text NOT NULL, box_id uuid REFERENCES box (id));
CREATE TABLE tray (id uuid PRIMARY KEY, kind text NOT NULL, box_id uuid);

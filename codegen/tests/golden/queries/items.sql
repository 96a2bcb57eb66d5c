-- Queries of the golden test.

-- name: GetBox :one
-- params: id
SELECT b.* FROM box_v b WHERE b.id = $1::uuid;

-- A page with the total.
-- name: ListBoxes :many
-- params: label?, page_limit
SELECT b.*, (count(*) OVER ())::bigint AS total
FROM box_v b
WHERE ($1::text IS NULL OR b.label = $1::text)
ORDER BY b.label
LIMIT $2::bigint;

-- name: CountBoxes :one
SELECT count(*)::bigint AS n, max(b.slots)::integer AS most FROM box b;

-- name: InsertBox :exec
-- params: id, label, note?, weight?, slots, tags?, blob, doc?, made_at, big?, flag
INSERT INTO box (id, label, note, weight, slots, tags, blob, doc, made_at, big, flag)
VALUES ($1::uuid, $2::text, $3::text, $4::double precision, $5::integer, $6::text[],
        $7::bytea, $8::json, to_timestamp($9::bigint / 1000.0), $10::bigint, $11::boolean);

-- name: TouchBox :execrows
-- params: id
UPDATE box SET slots = slots + 1 WHERE id = $1::uuid;

-- name: HeavierThan :many
-- params: weight?
SELECT id, label, weight FROM box WHERE weight > $1::double precision;

-- name: LabelsOf :many
-- params: ids
SELECT b.label, b.tags, b.blob FROM box b WHERE b.id = ANY ($1::uuid[]);

-- name: InsertMany :exec
-- params: ids, labels, slots, flags, weights
INSERT INTO box (id, label, slots, flag, weight, made_at)
SELECT u.id, u.label, u.slots::integer, u.flag, u.weight, now()
FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::boolean[], $5::double precision[])
     AS u (id, label, slots, flag, weight);

-- Both variants share one params and one row type.
-- name: Get{Thing}Kind :one
-- variant: Thing=Crate table=crate
-- variant: Thing=Tray table=tray
-- params: id
SELECT t.kind, b.label
FROM {table} t
LEFT JOIN box b ON b.id = t.box_id
WHERE t.id = $1::uuid;

-- name: NoteOf :one
-- params: id:uuid
-- notnull: note
SELECT b.note FROM box b WHERE b.id = $1 AND b.note IS NOT NULL;

-- name: RenameBox :one
-- params: id, label
UPDATE box SET label = $2::text WHERE id = $1::uuid RETURNING id, label, note;

-- Two queries, one row type.
-- name: FirstLabels :many
-- params: page_limit
-- row: label_page
SELECT b.label, b.slots FROM box b ORDER BY b.label LIMIT $1::bigint;

-- name: LastLabels :many
-- params: page_limit
-- row: label_page
SELECT b.label, b.slots FROM box b ORDER BY b.label DESC LIMIT $1::bigint;

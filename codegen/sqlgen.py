#!/usr/bin/python3
"""fv-sqlgen: SQL -> C, in the style of sqlc (DESIGN.md section 4, STYLE.md rule 28).

Reads the migrations (CREATE TABLE / ALTER TABLE ... ADD COLUMN / CREATE VIEW)
to learn tables, views, column types and nullability, then the query files
(adapters/postgres/queries/*.sql), and writes into --out:

  db_runtime.h/.c     value types and helpers shared by the generated code
  db_models.h/.c      one struct per table or view a query embeds (`w.*`)
  db_<file>.h/.c      per query file: the SQL of each query as a
                      `static const char fv_db_<query>_sql[]`, its params and
                      row structs, one function running it as a prepared
                      statement through fv_pg_exec (adapters/postgres/pg.h)
                      on a connection the caller holds, and its pool variant

Each query gives two functions. fv_db_<query>(fv_pg_conn *c, fv_arena *a,
...) runs it on `c`, inside a transaction (fv_pg_tx) or not.
fv_db_<query>_on(fv_pg_pool *pool, fv_arena *a, ...) takes the same
arguments after the first, borrows a connection of `pool` for the call
(fv_pg_acquire), runs fv_db_<query> on it and gives it back (fv_pg_release):
one statement outside a transaction, in one call. It answers what
fv_db_<query> answers, or the error of fv_pg_acquire (FV_E_UNAVAILABLE,
FV_E_EXHAUSTED) without running anything; results live in `a` as they do
for fv_db_<query>, so they outlive the connection.

A query is one statement under a header of comment lines:

  -- name: GetWorker :one            (:one | :many | :exec | :execrows)
  -- params: tenant_id, space_id?, kind    names of $1..$n in order; `?` =
                                     may be NULL; `name:type` types a
                                     parameter that has no cast in the SQL
  -- nullable: col, ...              result columns that may be NULL
  -- notnull: col, ...               result columns that are never NULL
  -- variant: cls=workflow Cls=Workflow   one line per variant: the query is
                                     emitted once per line with {key}
                                     replaced (in the name too); every
                                     variant shares one params and row type
  -- row: name                       the row type fv_db_<name>_row, shared by
                                     every query of the file that says so
                                     (their columns must be the same)

Parameters are typed by an explicit cast in the SQL (`$1::uuid`) or by the
params line. Result columns are typed by the schema (`w.kind`, `kind`), by
a trailing cast (`count(*)::bigint AS total`), or embed a whole table or
view (`w.*`, the model struct). Anything the generator cannot type is an
error naming the file and line; nothing is guessed.

Output is deterministic (the same input gives the same bytes) and each file
says that it is generated and must not be edited.
"""

import argparse
import os
import re
import sys

VERSION = "1"
TOOL = "fv-sqlgen " + VERSION

HERE = os.path.dirname(os.path.abspath(__file__))


class GenError(Exception):
    """An error in an input file, at a line."""

    def __init__(self, path, line, msg):
        super().__init__("%s:%d: %s" % (path, line, msg))
        self.path = path
        self.line = line
        self.msg = msg


# ---------------------------------------------------------------------------
# Lexer
# ---------------------------------------------------------------------------

OP_CHARS = set("+-*/<>=~!@#%^&|`?")


class Tok:
    __slots__ = ("kind", "text", "value", "line", "start", "end")

    def __init__(self, kind, text, value, line, start, end):
        self.kind = kind    # ident qident num str param op punct comment
        self.text = text    # source text
        self.value = value  # ident: lower-case name; param: number; comment: body
        self.line = line
        self.start = start
        self.end = end

    def is_kw(self, *words):
        return self.kind == "ident" and self.value in words

    def is_punct(self, *p):
        return self.kind in ("punct", "op") and self.text in p

    def __repr__(self):
        return "Tok(%s,%r,%d)" % (self.kind, self.text, self.line)


def lex(text, path, line0=1):
    """Tokens of SQL text (comments included). Raises GenError."""
    toks = []
    i = 0
    n = len(text)
    line = line0
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        start, sline = i, line
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            toks.append(Tok("comment", text[i:j], text[i + 2:j].strip(), sline, i, j))
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth > 0:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    if text[j] == "\n":
                        line += 1
                    j += 1
            if depth > 0:
                raise GenError(path, sline, "unterminated /* comment")
            toks.append(Tok("comment", text[i:j], text[i + 2:j - 2].strip(), sline, i, j))
            i = j
            continue
        if c == "'" or (c in "eE" and text.startswith("'", i + 1)):
            escapes = c != "'"
            j = i + (2 if escapes else 1)
            while True:
                if j >= n:
                    raise GenError(path, sline, "unterminated string literal")
                ch = text[j]
                if ch == "\n":
                    line += 1
                if escapes and ch == "\\":
                    j += 2
                    continue
                if ch == "'":
                    if text.startswith("''", j):
                        j += 2
                        continue
                    j += 1
                    break
                j += 1
            toks.append(Tok("str", text[i:j], None, sline, i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while True:
                if j >= n:
                    raise GenError(path, sline, "unterminated quoted identifier")
                if text[j] == "\n":
                    line += 1
                if text[j] == '"':
                    if text.startswith('""', j):
                        j += 2
                        continue
                    j += 1
                    break
                j += 1
            toks.append(Tok("qident", text[i:j], text[i + 1:j - 1].replace('""', '"'),
                            sline, i, j))
            i = j
            continue
        if c == "$":
            m = re.match(r"\$(\d+)", text[i:])
            if m:
                j = i + len(m.group(0))
                toks.append(Tok("param", m.group(0), int(m.group(1)), sline, i, j))
                i = j
                continue
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", text[i:])
            if m:
                tag = m.group(0)
                j = text.find(tag, i + len(tag))
                if j < 0:
                    raise GenError(path, sline, "unterminated dollar-quoted string %s" % tag)
                j += len(tag)
                line += text.count("\n", i, j)
                toks.append(Tok("str", text[i:j], None, sline, i, j))
                i = j
                continue
            raise GenError(path, sline, "unexpected '$'")
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = re.match(r"\d*\.?\d+(?:[eE][+-]?\d+)?|\d+\.", text[i:])
            j = i + len(m.group(0))
            toks.append(Tok("num", text[i:j], None, sline, i, j))
            i = j
            continue
        if c.isalpha() or c == "_":
            m = re.match(r"[A-Za-z_][A-Za-z0-9_$]*", text[i:])
            j = i + len(m.group(0))
            toks.append(Tok("ident", text[i:j], text[i:j].lower(), sline, i, j))
            i = j
            continue
        if c == ":":
            if text.startswith("::", i):
                toks.append(Tok("punct", "::", None, sline, i, i + 2))
                i += 2
            else:
                toks.append(Tok("punct", ":", None, sline, i, i + 1))
                i += 1
            continue
        if c in "(),;.[]{}":
            toks.append(Tok("punct", c, None, sline, i, i + 1))
            i += 1
            continue
        if c in OP_CHARS:
            j = i
            while j < n and text[j] in OP_CHARS:
                if j > i and (text.startswith("--", j) or text.startswith("/*", j)):
                    break
                j += 1
            toks.append(Tok("op", text[i:j], None, sline, i, j))
            i = j
            continue
        raise GenError(path, sline, "unexpected character %r" % c)
    return toks


def split_statements(toks):
    """Statements as lists of tokens (comments kept), split at top-level ';'.
    A trailing piece holding only comments is dropped."""
    out, cur, depth = [], [], 0
    for t in toks:
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        if t.kind == "punct" and t.text == ";" and depth == 0:
            out.append(cur)
            cur = []
            continue
        cur.append(t)
    if any(t.kind != "comment" for t in cur):
        out.append(cur)
    return out


def code(toks):
    return [t for t in toks if t.kind != "comment"]


# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------


class Type:
    """A SQL type as the generator knows it: a base name and an array flag."""

    __slots__ = ("base", "array")

    def __init__(self, base, array=False):
        self.base = base
        self.array = array

    def __eq__(self, other):
        return isinstance(other, Type) and (self.base, self.array) == (other.base, other.array)

    def __hash__(self):
        return hash((self.base, self.array))

    def sql(self):
        return self.base + ("[]" if self.array else "")


TYPE_WORDS = {
    "uuid": "uuid",
    "text": "text", "varchar": "text", "char": "text", "character": "text", "bpchar": "text",
    "name": "text", "citext": "text",
    "json": "json", "jsonb": "jsonb",
    "smallint": "int2", "int2": "int2",
    "integer": "int4", "int": "int4", "int4": "int4",
    "bigint": "int8", "int8": "int8",
    "boolean": "bool", "bool": "bool",
    "float8": "float8", "real": "float8", "float4": "float8",
    "bytea": "bytea",
    "timestamptz": "timestamptz", "date": "date", "numeric": "numeric", "decimal": "numeric",
    "interval": "interval",
}


def parse_type(toks, i, path):
    """Parse a type name at toks[i]; returns (Type, next index). The type may
    be multi-word (double precision, character varying, timestamp with time
    zone), carry a modifier ((255)) and array brackets."""
    if i >= len(toks) or toks[i].kind != "ident":
        line = toks[i].line if i < len(toks) else (toks[-1].line if toks else 0)
        raise GenError(path, line, "expected a type name")
    t = toks[i]
    w = t.value
    j = i + 1

    def word(k, *vals):
        return k < len(toks) and toks[k].is_kw(*vals)

    if w == "double" and word(j, "precision"):
        base, j = "float8", j + 1
    elif w == "character" and word(j, "varying"):
        base, j = "text", j + 1
    elif w == "timestamp":
        base = "timestamp"
        if word(j, "with") and word(j + 1, "time") and word(j + 2, "zone"):
            base, j = "timestamptz", j + 3
        elif word(j, "without") and word(j + 1, "time") and word(j + 2, "zone"):
            j += 3
    elif w in TYPE_WORDS:
        base = TYPE_WORDS[w]
    else:
        raise GenError(path, t.line, "unknown type %r" % t.text)
    if j < len(toks) and toks[j].is_punct("("):
        k = j + 1
        while k < len(toks) and not toks[k].is_punct(")"):
            k += 1
        if k >= len(toks):
            raise GenError(path, t.line, "unterminated type modifier of %r" % t.text)
        j = k + 1
    array = False
    while j + 1 < len(toks) and toks[j].is_punct("[") and toks[j + 1].is_punct("]"):
        array, j = True, j + 2
    return Type(base, array), j


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------


class Column:
    __slots__ = ("name", "type", "notnull")

    def __init__(self, name, typ, notnull):
        self.name = name
        self.type = typ
        self.notnull = notnull


class Relation:
    """A table or a view: its columns in order."""

    def __init__(self, name, kind, path, line):
        self.name = name
        self.kind = kind
        self.path = path
        self.line = line
        self.columns = []

    def column(self, name):
        for c in self.columns:
            if c.name == name:
                return c
        return None


SKIPPED_CREATE = ("index", "unique", "function", "procedure", "extension", "trigger",
                  "sequence", "schema", "type", "domain", "aggregate", "operator", "or")
TABLE_CONSTRAINT_WORDS = ("constraint", "primary", "unique", "foreign", "check", "exclude")


def split_top(toks, sep=","):
    """Split a token list at top-level separators."""
    out, cur, depth = [], [], 0
    for t in toks:
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        if depth == 0 and t.kind == "punct" and t.text == sep:
            out.append(cur)
            cur = []
            continue
        cur.append(t)
    if cur:
        out.append(cur)
    return out


def matching_paren(toks, i):
    """Index of the ')' closing the '(' at toks[i]."""
    depth = 0
    for k in range(i, len(toks)):
        if toks[k].kind == "punct" and toks[k].text in "([":
            depth += 1
        elif toks[k].kind == "punct" and toks[k].text in ")]":
            depth -= 1
            if depth == 0:
                return k
    return -1


def ident_name(t):
    return t.value if t.kind in ("ident", "qident") else None


class Schema:
    def __init__(self):
        self.rels = {}

    def get(self, name):
        return self.rels.get(name)

    # -- statements --------------------------------------------------------

    def load(self, path, text):
        stmts = split_statements(lex(text, path))
        for st in stmts:
            notes = annotations(st, path, migration=True)
            c = code(st)
            if not c:
                continue
            self.statement(path, c, notes)

    def statement(self, path, c, notes):
        head = c[0]
        if head.is_kw("create"):
            k = 1
            if k < len(c) and c[k].is_kw("or") and k + 1 < len(c) and c[k + 1].is_kw("replace"):
                k += 2
            if k < len(c) and c[k].is_kw("temp", "temporary", "unlogged"):
                k += 1
            if k < len(c) and c[k].is_kw("table"):
                return self.create_table(path, c, k + 1)
            if k < len(c) and c[k].is_kw("view"):
                return self.create_view(path, c, k + 1, notes)
            if k < len(c) and c[k].is_kw(*SKIPPED_CREATE):
                return None
            raise GenError(path, head.line, "cannot read CREATE %s" %
                           (c[k].text if k < len(c) else ""))
        if head.is_kw("alter") and len(c) > 1 and c[1].is_kw("table"):
            return self.alter_table(path, c)
        if head.is_kw("drop") and len(c) > 2 and c[1].is_kw("table", "view"):
            k = 2
            if c[k].is_kw("if") and k + 1 < len(c) and c[k + 1].is_kw("exists"):
                k += 2
            for part in split_top(c[k:]):
                if part and ident_name(part[0]):
                    self.rels.pop(ident_name(part[0]), None)
            return None
        if head.is_kw("comment", "grant", "revoke", "insert", "update", "delete", "set",
                      "select", "do"):
            return None
        raise GenError(path, head.line, "cannot read statement %s" % head.text.upper())

    def create_table(self, path, c, k):
        if k + 2 < len(c) and c[k].is_kw("if") and c[k + 1].is_kw("not") and c[k + 2].is_kw("exists"):
            k += 3
        k = skip_schema(c, k)
        name = ident_name(c[k]) if k < len(c) else None
        if name is None:
            raise GenError(path, c[0].line, "CREATE TABLE without a name")
        k += 1
        if k >= len(c) or not c[k].is_punct("("):
            raise GenError(path, c[k - 1].line, "CREATE TABLE %s: expected '('" % name)
        end = matching_paren(c, k)
        if end < 0:
            raise GenError(path, c[k].line, "CREATE TABLE %s: unbalanced parentheses" % name)
        rel = Relation(name, "table", path, c[0].line)
        pkeys = []
        for el in split_top(c[k + 1:end]):
            if not el:
                continue
            if el[0].is_kw(*TABLE_CONSTRAINT_WORDS):
                pkeys += primary_key_columns(el)
                continue
            if el[0].is_kw("like"):
                raise GenError(path, el[0].line, "CREATE TABLE %s: LIKE is not supported" % name)
            col = parse_column(el, path, name)
            if rel.column(col.name):
                raise GenError(path, el[0].line, "table %s: column %s defined twice"
                               % (name, col.name))
            rel.columns.append(col)
        for pk in pkeys:
            col = rel.column(pk)
            if col is None:
                raise GenError(path, c[0].line, "table %s: PRIMARY KEY names unknown column %s"
                               % (name, pk))
            col.notnull = True
        self.rels[name] = rel

    def alter_table(self, path, c):
        k = 2
        if k + 1 < len(c) and c[k].is_kw("if") and c[k + 1].is_kw("exists"):
            k += 2
        if k < len(c) and c[k].is_kw("only"):
            k += 1
        k = skip_schema(c, k)
        name = ident_name(c[k]) if k < len(c) else None
        rel = self.rels.get(name)
        if rel is None or rel.kind != "table":
            raise GenError(path, c[0].line, "ALTER TABLE of unknown table %s" % name)
        for action in split_top(c[k + 1:]):
            if not action:
                continue
            a = action[0]
            if a.is_kw("add"):
                j = 1
                if j < len(action) and action[j].is_kw("constraint", "primary", "unique",
                                                       "foreign", "check", "exclude"):
                    for pk in primary_key_columns(action[j:]):
                        if rel.column(pk):
                            rel.column(pk).notnull = True
                    continue
                if j < len(action) and action[j].is_kw("column"):
                    j += 1
                if (j + 2 < len(action) and action[j].is_kw("if") and action[j + 1].is_kw("not")
                        and action[j + 2].is_kw("exists")):
                    j += 3
                col = parse_column(action[j:], path, name)
                if rel.column(col.name):
                    raise GenError(path, a.line, "table %s: column %s added twice"
                                   % (name, col.name))
                rel.columns.append(col)
            elif a.is_kw("alter"):
                j = 1
                if j < len(action) and action[j].is_kw("column"):
                    j += 1
                col = rel.column(ident_name(action[j])) if j < len(action) else None
                if col is None:
                    raise GenError(path, a.line, "ALTER COLUMN of unknown column")
                rest = [t.value for t in action[j + 1:]]
                if rest[:3] == ["set", "not", "null"]:
                    col.notnull = True
                elif rest[:3] == ["drop", "not", "null"]:
                    col.notnull = False
                elif rest[:2] in (["set", "default"], ["drop", "default"]) or rest[:2] == [
                        "set", "statistics"] or rest[:2] == ["set", "storage"]:
                    pass
                else:
                    raise GenError(path, a.line, "cannot read ALTER COLUMN %s" %
                                   " ".join(t.text for t in action[j + 1:j + 3]))
            elif a.is_kw("set", "reset", "owner", "enable", "disable", "cluster", "validate"):
                continue
            elif a.is_kw("drop"):
                j = 1
                if j < len(action) and action[j].is_kw("constraint"):
                    continue
                if j < len(action) and action[j].is_kw("column"):
                    j += 1
                if j + 1 < len(action) and action[j].is_kw("if") and action[j + 1].is_kw("exists"):
                    j += 2
                cname = ident_name(action[j]) if j < len(action) else None
                rel.columns = [col for col in rel.columns if col.name != cname]
            else:
                raise GenError(path, a.line, "cannot read ALTER TABLE action %s" % a.text.upper())

    def create_view(self, path, c, k, notes):
        k = skip_schema(c, k)
        name = ident_name(c[k]) if k < len(c) else None
        if name is None:
            raise GenError(path, c[0].line, "CREATE VIEW without a name")
        k += 1
        if k < len(c) and c[k].is_punct("("):
            raise GenError(path, c[k].line, "view %s: name its columns in the SELECT list "
                           "(AS), not after the view name" % name)
        while k < len(c) and not c[k].is_kw("as"):
            k += 1
        if k >= len(c):
            raise GenError(path, c[0].line, "view %s: expected AS SELECT" % name)
        body = c[k + 1:]
        if not body or not body[0].is_kw("select"):
            raise GenError(path, c[0].line, "view %s: only CREATE VIEW ... AS SELECT is read"
                           % name)
        # The first branch of a UNION gives the names and types.
        first = []
        depth = 0
        for t in body:
            if t.kind == "punct" and t.text in "([":
                depth += 1
            elif t.kind == "punct" and t.text in ")]":
                depth -= 1
            if depth == 0 and t.is_kw("union", "except", "intersect"):
                break
            first.append(t)
        scope = Scope(self, first, path)
        cols = result_columns(scope, first, path, "view " + name, notes, allow_embed=False)
        rel = Relation(name, "view", path, c[0].line)
        for rc in cols:
            rel.columns.append(Column(rc.name, rc.type, rc.notnull))
        self.rels[name] = rel


def skip_schema(c, k):
    if k + 2 < len(c) and c[k + 1].is_punct("."):
        return k + 2
    return k


def primary_key_columns(el):
    """Columns of a PRIMARY KEY (...) table constraint, else []."""
    for j in range(len(el) - 1):
        if el[j].is_kw("primary") and el[j + 1].is_kw("key"):
            k = j + 2
            if k < len(el) and el[k].is_punct("("):
                end = matching_paren(el, k)
                return [ident_name(t) for t in el[k + 1:end] if ident_name(t)]
    return []


def parse_column(el, path, table):
    name = ident_name(el[0])
    if name is None:
        raise GenError(path, el[0].line, "table %s: expected a column name, got %r"
                       % (table, el[0].text))
    typ, j = parse_type(el, 1, path)
    notnull = False
    rest = el[j:]
    for k, t in enumerate(rest):
        if t.is_kw("not") and k + 1 < len(rest) and rest[k + 1].is_kw("null"):
            notnull = True
        elif t.is_kw("primary") and k + 1 < len(rest) and rest[k + 1].is_kw("key"):
            notnull = True
        elif t.is_kw("identity"):
            notnull = True
    return Column(name, typ, notnull)


# ---------------------------------------------------------------------------
# Annotations
# ---------------------------------------------------------------------------

HEADER_RE = re.compile(r"^(name|params|nullable|notnull|variant|row)\s*:\s*(.*)$")


def annotations(st, path, migration):
    """Annotations of a statement. In migrations: `-- sqlgen: nullable a, b`
    and `-- sqlgen: notnull a, b` lines before the statement. In query files
    the header lines (see the module comment) are read by parse_query."""
    notes = {"nullable": [], "notnull": []}
    if not migration:
        return notes
    for t in st:
        if t.kind != "comment" or not t.text.startswith("--"):
            continue
        m = re.match(r"^sqlgen\s*:\s*(\w+)\s+(.*)$", t.value)
        if not m:
            if t.value.startswith("sqlgen"):
                raise GenError(path, t.line, "cannot read annotation %r" % t.value)
            continue
        what, args = m.group(1), m.group(2)
        if what not in ("nullable", "notnull"):
            raise GenError(path, t.line, "unknown annotation sqlgen: %s" % what)
        notes[what] += [(a.strip(), t.line) for a in args.split(",") if a.strip()]
    return notes


# ---------------------------------------------------------------------------
# Scopes: which alias means which table or view
# ---------------------------------------------------------------------------

NOT_ALIAS = {
    "where", "on", "join", "left", "right", "inner", "outer", "full", "cross", "natural",
    "using", "group", "order", "limit", "offset", "union", "except", "intersect", "returning",
    "set", "values", "select", "for", "having", "window", "lateral", "as", "and", "or", "not",
    "with", "default", "fetch", "into", "from", "when", "then", "else", "end", "is", "in", "do",
    "conflict", "only", "tablesample",
}


class Alias:
    __slots__ = ("name", "rel", "nullable", "conflict")

    def __init__(self, name, rel, nullable):
        self.name = name
        self.rel = rel            # Relation, or None for a subquery / function
        self.nullable = nullable  # introduced by a LEFT JOIN
        self.conflict = None      # "a and b" when the alias means two things


class Scope:
    """Every alias a statement introduces (in any subquery): FROM, JOIN,
    UPDATE, INSERT INTO, DELETE FROM and USING items."""

    def __init__(self, schema, toks, path):
        self.schema = schema
        self.path = path
        self.aliases = {}
        self.any_outer = False
        for i, t in enumerate(toks):
            if t.is_kw("right", "full") and i + 1 < len(toks) and toks[i + 1].is_kw(
                    "join", "outer"):
                self.any_outer = True
            if not t.is_kw("from", "join", "update", "into", "using"):
                continue
            if t.is_kw("using") and i + 1 < len(toks) and toks[i + 1].is_punct("("):
                continue
            # FOR [NO KEY] UPDATE, ON CONFLICT DO UPDATE: no table follows.
            if t.is_kw("update") and i > 0 and toks[i - 1].is_kw("for", "key", "do"):
                continue
            left = t.is_kw("join") and self.left_join(toks, i)
            j = i + 1
            while True:
                j = self.item(toks, j, left, t.is_kw("into"))
                if j < len(toks) and toks[j].is_punct(",") and t.is_kw("from", "using") \
                        and self.at_from_level(toks, i, j):
                    j += 1
                    continue
                break

    @staticmethod
    def left_join(toks, i):
        k = i - 1
        if k >= 0 and toks[k].is_kw("outer"):
            k -= 1
        return k >= 0 and toks[k].is_kw("left")

    @staticmethod
    def at_from_level(toks, i, j):
        depth = 0
        for t in toks[i:j]:
            if t.kind == "punct" and t.text in "([":
                depth += 1
            elif t.kind == "punct" and t.text in ")]":
                depth -= 1
        return depth == 0

    def item(self, toks, j, left, into=False):
        """Read one FROM item at toks[j]; returns the index after it. After
        INTO, parentheses after the name are a column list."""
        while j < len(toks) and toks[j].is_kw("lateral", "only"):
            j += 1
        if j >= len(toks):
            return j
        t = toks[j]
        rel = None
        if t.is_punct("("):
            end = matching_paren(toks, j)
            j = end + 1 if end >= 0 else len(toks)
            name = None
        elif ident_name(t):
            j = skip_schema(toks, j)
            name = ident_name(toks[j])
            j += 1
            if j < len(toks) and toks[j].is_punct("(") and not into:  # a function call
                end = matching_paren(toks, j)
                j = end + 1 if end >= 0 else len(toks)
                if j < len(toks) and toks[j].is_kw("with") and j + 1 < len(toks) and \
                        toks[j + 1].is_kw("ordinality"):
                    j += 2
            else:
                rel = self.schema.get(name)
        else:
            return j
        alias = name if rel is not None else None
        if j < len(toks) and toks[j].is_kw("as"):
            j += 1
        if j < len(toks) and ident_name(toks[j]) and toks[j].value not in NOT_ALIAS:
            alias = ident_name(toks[j])
            j += 1
            if j < len(toks) and toks[j].is_punct("("):  # column aliases
                end = matching_paren(toks, j)
                j = end + 1 if end >= 0 else len(toks)
        if alias is not None:
            prev = self.aliases.get(alias)
            if prev is not None and prev.rel is not rel:
                prev_name = prev.rel.name if prev.rel else "a subquery"
                this_name = rel.name if rel else "a subquery"
                prev.conflict = "%s and %s" % (prev_name, this_name)
            elif prev is None or left:
                self.aliases[alias] = Alias(alias, rel, left)
        return j

    def column(self, alias, col, line):
        """Column `alias.col` (alias None: search every table in scope)."""
        if alias is not None:
            a = self.aliases.get(alias)
            if a is not None and a.conflict is not None:
                raise GenError(self.path, line, "alias %s means both %s: use distinct aliases"
                               % (alias, a.conflict))
            if a is None or a.rel is None:
                return None, None
            c = a.rel.column(col)
            if c is None:
                raise GenError(self.path, line, "%s (%s) has no column %s"
                               % (alias, a.rel.name, col))
            return c, a
        found = []
        for a in self.aliases.values():
            if a.rel is not None and a.conflict is None and a.rel.column(col) is not None:
                if all(f[1].rel is not a.rel for f in found):
                    found.append((a.rel.column(col), a))
        if len(found) > 1:
            raise GenError(self.path, line, "column %s is ambiguous (%s): qualify it"
                           % (col, ", ".join(f[1].name for f in found)))
        return found[0] if found else (None, None)


# ---------------------------------------------------------------------------
# Result columns
# ---------------------------------------------------------------------------


class ResultCol:
    __slots__ = ("name", "type", "notnull", "embed", "line")

    def __init__(self, name, typ, notnull, line, embed=None):
        self.name = name
        self.type = typ
        self.notnull = notnull
        self.embed = embed  # Relation when the column is `alias.*`
        self.line = line


NULLABLE_FUNCS = {"max", "min", "sum", "avg", "array_agg", "string_agg", "json_agg",
                  "jsonb_agg", "bool_and", "bool_or", "every", "nullif", "lag", "lead",
                  "first_value", "last_value", "nth_value"}


def main_start(toks, path, what):
    """Index of the main statement, after a WITH clause."""
    k = 0
    if toks and toks[0].is_kw("with"):
        k = 1
        if k < len(toks) and toks[k].is_kw("recursive"):
            k += 1
        while k < len(toks):
            k += 1  # the name
            if k < len(toks) and toks[k].is_punct("("):
                k = matching_paren(toks, k) + 1
            if k < len(toks) and toks[k].is_kw("as"):
                k += 1
            while k < len(toks) and toks[k].is_kw("not", "materialized"):
                k += 1
            if k >= len(toks) or not toks[k].is_punct("("):
                raise GenError(path, toks[0].line, "%s: cannot read its WITH clause" % what)
            k = matching_paren(toks, k) + 1
            if k < len(toks) and toks[k].is_punct(","):
                k += 1
                continue
            break
    return k


def dml_target(toks, path, what):
    """Alias of the target of a main INSERT, UPDATE or DELETE, else None."""
    main = toks[main_start(toks, path, what):]
    if not main:
        return None
    j = None
    if main[0].is_kw("insert") and len(main) > 2 and main[1].is_kw("into"):
        j = 2
    elif main[0].is_kw("update"):
        j = 1
    elif main[0].is_kw("delete") and len(main) > 2 and main[1].is_kw("from"):
        j = 2
    if j is None:
        return None
    if j < len(main) and main[j].is_kw("only"):
        j += 1
    j = skip_schema(main, j)
    if j >= len(main) or not ident_name(main[j]):
        return None
    alias = ident_name(main[j])
    j += 1
    if j < len(main) and main[j].is_kw("as"):
        j += 1
    if j < len(main) and ident_name(main[j]) and main[j].value not in NOT_ALIAS:
        alias = ident_name(main[j])
    return alias


def select_list(toks, path, what):
    """The tokens of the result list of a statement: the SELECT list of the
    main statement, or its RETURNING list. None when it returns nothing."""
    k = main_start(toks, path, what)
    main = toks[k:]
    if not main:
        raise GenError(path, toks[0].line, "%s: empty statement" % what)
    if main[0].is_kw("select"):
        j = 1
        if j < len(main) and main[j].is_kw("all"):
            j += 1
        elif j < len(main) and main[j].is_kw("distinct"):
            j += 1
            if j < len(main) and main[j].is_kw("on"):
                j = matching_paren(main, j + 1) + 1
        out, depth = [], 0
        for t in main[j:]:
            if t.kind == "punct" and t.text in "([":
                depth += 1
            elif t.kind == "punct" and t.text in ")]":
                depth -= 1
            if depth == 0 and t.is_kw("from", "into", "where", "group", "having", "window",
                                      "order", "limit", "offset", "fetch", "for", "union",
                                      "except", "intersect"):
                break
            out.append(t)
        return out
    if main[0].is_kw("insert", "update", "delete"):
        depth = 0
        for j, t in enumerate(main):
            if t.kind == "punct" and t.text in "([":
                depth += 1
            elif t.kind == "punct" and t.text in ")]":
                depth -= 1
            if depth == 0 and t.is_kw("returning"):
                return main[j + 1:]
        return None
    if main[0].is_kw("values"):
        raise GenError(path, main[0].line, "%s: a VALUES statement has no column names" % what)
    return None


def trailing_cast(expr, path):
    """The type of a trailing top-level `::type` of an expression, else None."""
    depth = 0
    last = -1
    for k, t in enumerate(expr):
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        elif depth == 0 and t.is_punct("::"):
            last = k
    if last < 0 or last == 0:
        return None
    typ, j = parse_type(expr, last + 1, path)
    if j != len(expr):
        return None
    return typ


def tokens_text(toks):
    """Tokens as readable SQL for messages."""
    out = ""
    prev = None
    for t in toks:
        tight = prev is not None and (t.text in (".", ")", ",", "::", "]", "[") or
                                      prev.text in (".", "(", "::", "[") or
                                      (t.text == "(" and prev.kind == "ident"))
        if out and not tight:
            out += " "
        out += t.text
        prev = t
    return out


def strip_parens(expr):
    while len(expr) >= 2 and expr[0].is_punct("(") and matching_paren(expr, 0) == len(expr) - 1:
        expr = expr[1:-1]
    return expr


def never_null(expr):
    """count(...) [FILTER (...)] [OVER ...] and EXISTS (...) are never NULL,
    whatever they mention."""
    expr = strip_parens(expr)
    if len(expr) >= 2 and expr[0].is_kw("exists") and expr[1].is_punct("("):
        return matching_paren(expr, 1) == len(expr) - 1
    if len(expr) < 2 or not expr[0].is_kw("count") or not expr[1].is_punct("("):
        return False
    k = matching_paren(expr, 1) + 1
    if k < len(expr) and expr[k].is_kw("filter") and k + 1 < len(expr) and \
            expr[k + 1].is_punct("("):
        k = matching_paren(expr, k + 1) + 1
    if k < len(expr) and expr[k].is_kw("over"):
        if k + 1 < len(expr) and expr[k + 1].is_punct("("):
            k = matching_paren(expr, k + 1) + 1
        else:
            k += 2
    return k == len(expr)


def expr_nullable(scope, expr, line):
    """Conservative nullability of a cast expression: NULL when it mentions
    NULL, a nullable or unknown column, a LEFT-joined alias, a subquery, a
    CASE without ELSE, a JSON field, or an aggregate that is NULL over no
    rows; never for a count or an EXISTS."""
    body = expr
    depth = 0
    for k, t in enumerate(expr):
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        elif depth == 0 and t.is_punct("::"):
            body = expr[:k]
            break
    if never_null(body):
        return False
    if scope.any_outer:
        return True
    words = [t.value for t in expr if t.kind == "ident"]
    if "null" in words or "select" in words:
        return True
    if "case" in words and "else" not in words:
        return True
    for k, t in enumerate(expr):
        if t.kind == "op" and t.text in ("->>", "->", "#>", "#>>"):
            return True
        if t.kind == "ident" and t.value in NULLABLE_FUNCS and k + 1 < len(expr) and \
                expr[k + 1].is_punct("("):
            return True
        if ident_name(t) and k + 2 < len(expr) and expr[k + 1].is_punct(".") and \
                ident_name(expr[k + 2]) and not (k > 0 and expr[k - 1].is_punct(".")):
            col, alias = scope.column(ident_name(t), ident_name(expr[k + 2]), t.line)
            if col is None or not col.notnull or alias.nullable:
                return True
    return False


def result_columns(scope, stmt, path, what, notes, allow_embed=True):
    """Typed result columns of a statement (a view body or a query)."""
    items = select_list(stmt, path, what)
    if items is None:
        return None
    target = dml_target(stmt, path, what)
    cols = []
    for item in split_top(items):
        if not item:
            raise GenError(path, items[0].line if items else 0, "%s: empty result column" % what)
        line = item[0].line
        # alias.*
        if len(item) == 3 and ident_name(item[0]) and item[1].is_punct(".") and \
                item[2].kind == "op" and item[2].text == "*":
            a = scope.aliases.get(ident_name(item[0]))
            if a is not None and a.conflict is not None:
                raise GenError(path, line, "alias %s means both %s: use distinct aliases"
                               % (a.name, a.conflict))
            if a is None or a.rel is None:
                raise GenError(path, line, "%s: %s.* does not name a table or view"
                               % (what, item[0].text))
            if not allow_embed:
                raise GenError(path, line, "%s: list the columns instead of %s.*"
                               % (what, item[0].text))
            cols.append(ResultCol(ident_name(item[0]), None, not a.nullable, line, embed=a.rel))
            continue
        if len(item) == 1 and item[0].text == "*":
            raise GenError(path, line, "%s: SELECT * is not typed: list the columns or "
                           "embed a table with alias.*" % what)
        name = None
        expr = item
        if len(item) >= 2 and item[-2].is_kw("as") and ident_name(item[-1]):
            name = ident_name(item[-1])
            expr = item[:-2]
        ref = None
        if len(expr) == 1 and ident_name(expr[0]):
            ref = (None, ident_name(expr[0]))
        elif len(expr) == 3 and ident_name(expr[0]) and expr[1].is_punct(".") and \
                ident_name(expr[2]):
            ref = (ident_name(expr[0]), ident_name(expr[2]))
        typ = None
        if ref is not None:
            col, alias = scope.column(ref[0] or target, ref[1], line)
            if col is not None:
                typ = col.type
                notnull = col.notnull and not alias.nullable and not scope.any_outer
                name = name or ref[1]
        if typ is None:
            typ = trailing_cast(expr, path)
            if typ is None:
                raise GenError(path, line, "%s: cannot type result column %d (%s): select a "
                               "column of a table or view, or cast it (expr::type AS name)"
                               % (what, len(cols) + 1, tokens_text(item)))
            if name is None:
                raise GenError(path, line, "%s: name result column %d with AS" %
                               (what, len(cols) + 1))
            notnull = not expr_nullable(scope, expr, line)
        cols.append(ResultCol(name, typ, notnull, line))
    names = set()
    for c in cols:
        if c.embed is not None:
            continue
        if c.name in names:
            raise GenError(path, c.line, "%s: two result columns are named %s" % (what, c.name))
        names.add(c.name)
    for what_note, flag in (("nullable", False), ("notnull", True)):
        for n, nline in notes.get(what_note, []):
            hit = [c for c in cols if c.embed is None and c.name == n]
            if not hit:
                raise GenError(path, nline, "%s: %s names no result column %s"
                               % (what, what_note, n))
            hit[0].notnull = flag
    return cols

# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------

KINDS = ("one", "many", "exec", "execrows")
C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


class Param:
    __slots__ = ("index", "name", "type", "nullable")

    def __init__(self, index, name, typ, nullable):
        self.index = index
        self.name = name
        self.type = typ
        self.nullable = nullable

    def sig(self):
        return (self.name, self.type, self.nullable)


class Query:
    def __init__(self):
        self.name = None      # CamelCase, placeholders replaced
        self.func = None      # fv_db_<snake name>
        self.base = None      # snake name of the shared types (placeholders removed)
        self.kind = None
        self.sql = None       # text of the C constant: the -- name: line and the statement
        self.params = []
        self.cols = None      # [ResultCol] for :one / :many
        self.row = None       # name of a row type shared with other queries (-- row:)
        self.path = None
        self.line = None


def raw_statements(path, text):
    """(start offset, end offset, first line) of each statement of a file,
    comments before it included."""
    toks = lex(text, path)
    out = []
    begin = 0
    cur = []
    depth = 0
    for t in toks:
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        if t.kind == "punct" and t.text == ";" and depth == 0:
            out.append((begin, t.start, cur))
            begin = t.end
            cur = []
            continue
        cur.append(t)
    if any(t.kind != "comment" for t in cur):
        out.append((begin, len(text), cur))
    return out


def parse_header(toks, path):
    """Header annotations of a query: the comment lines before its first
    code token."""
    h = {"name": None, "params": None, "nullable": [], "notnull": [], "variants": [],
         "row": None}
    for t in toks:
        if t.kind != "comment":
            break
        if not t.text.startswith("--"):
            continue
        m = HEADER_RE.match(t.value)
        if not m:
            continue
        key, val = m.group(1), m.group(2).strip()
        if key == "name":
            if h["name"] is not None:
                raise GenError(path, t.line, "two -- name: lines for one query")
            mm = re.match(r"^([A-Za-z_{}][A-Za-z0-9_{}]*)\s+:(\w+)$", val)
            if not mm:
                raise GenError(path, t.line, "cannot read %r: expected -- name: Name :kind"
                               % t.text)
            if mm.group(2) not in KINDS:
                raise GenError(path, t.line, "unknown query kind :%s (:one, :many, :exec or "
                               ":execrows)" % mm.group(2))
            h["name"] = (mm.group(1), mm.group(2), t)
        elif key == "params":
            if h["params"] is not None:
                raise GenError(path, t.line, "two -- params: lines for one query")
            h["params"] = (val, t.line)
        elif key in ("nullable", "notnull"):
            h[key] += [(a.strip(), t.line) for a in val.split(",") if a.strip()]
        elif key == "row":
            if not re.match(r"^[a-z][a-z0-9_]*$", val):
                raise GenError(path, t.line, "cannot read -- row: %r: expected a lower-case "
                               "name" % val)
            h["row"] = val
        elif key == "variant":
            v = {}
            for part in val.split():
                mm = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z0-9_]+)$", part)
                if not mm:
                    raise GenError(path, t.line, "cannot read variant %r: expected key=value"
                                   % part)
                v[mm.group(1)] = mm.group(2)
            if not v:
                raise GenError(path, t.line, "empty -- variant: line")
            h["variants"].append((v, t.line))
    return h


def parse_params_line(val, line, path):
    out = []
    for part in [p.strip() for p in val.split(",")]:
        if not part:
            raise GenError(path, line, "empty name in -- params:")
        mm = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(\?)?(?:\s*:\s*(.+))?$", part)
        if not mm:
            raise GenError(path, line, "cannot read parameter %r: expected name, name? or "
                           "name:type" % part)
        typ = None
        if mm.group(3):
            ttoks = code(lex(mm.group(3), path, line))
            typ, j = parse_type(ttoks, 0, path)
            if j != len(ttoks):
                raise GenError(path, line, "cannot read the type of parameter %s"
                               % mm.group(1))
        out.append((mm.group(1), bool(mm.group(2)), typ))
    names = [o[0] for o in out]
    for n in names:
        if names.count(n) > 1:
            raise GenError(path, line, "parameter %s is named twice" % n)
    return out


def load_queries(schema, path, text):
    queries = []
    for begin, end, toks in raw_statements(path, text):
        c = code(toks)
        if not c:
            continue
        h = parse_header(toks, path)
        if h["name"] is None:
            raise GenError(path, c[0].line, "statement without a -- name: line")
        name_tok = h["name"][2]
        raw = text[name_tok.start:end]
        variants = h["variants"] or [({}, name_tok.line)]
        keys = sorted(variants[0][0])
        for v, vline in variants:
            if sorted(v) != keys:
                raise GenError(path, vline, "every variant of %s must set the same keys (%s)"
                               % (h["name"][0], ", ".join(keys)))
        group = []
        for v, vline in variants:
            q = analyze(schema, path, raw, name_tok.line, h, v, vline)
            group.append(q)
        ref = group[0]
        for q in group[1:]:
            if [p.sig() for p in q.params] != [p.sig() for p in ref.params]:
                raise GenError(path, name_tok.line, "variants %s and %s take different "
                               "parameters" % (ref.name, q.name))
            if shape(q.cols) != shape(ref.cols):
                raise GenError(path, name_tok.line, "variants %s and %s return different "
                               "columns" % (ref.name, q.name))
        names = {q.name for q in queries}
        for q in group:
            if q.name in names:
                raise GenError(path, name_tok.line, "query %s defined twice" % q.name)
            names.add(q.name)
        queries += group
    return queries


def shape(cols):
    if cols is None:
        return None
    return [(c.name, c.type, c.notnull, c.embed.name if c.embed else None) for c in cols]


def substitute(text, v, path, line, strict):
    def rep(m):
        if m.group(1) in v:
            return v[m.group(1)]
        if strict:
            raise GenError(path, line + text.count("\n", 0, m.start()),
                           "unknown placeholder {%s}" % m.group(1))
        return m.group(0)

    return PLACEHOLDER.sub(rep, text)


def analyze(schema, path, raw, line, h, v, vline):
    q = Query()
    q.path = path
    q.line = line
    name, kind = h["name"][0], h["name"][1]
    strict = bool(v)
    q.name = substitute(name, v, path, line, strict)
    if not C_IDENT.match(q.name):
        raise GenError(path, line, "query name %r is not an identifier" % q.name)
    base = PLACEHOLDER.sub("", name) if v else name
    q.base = snake(base)
    q.func = "fv_db_" + snake(q.name)
    if len(q.func) > 63:
        raise GenError(path, line, "query name %s is too long for a prepared statement name"
                       % q.name)
    q.kind = kind
    q.row = h["row"]
    text = substitute(raw, v, path, line, strict)
    toks = lex(text, path, line)
    c = code(toks)
    # The SQL of the constant: the -- name: line, then the statement itself.
    first = c[0]
    name_line = toks[0].text
    if v:
        name_line = "-- name: %s :%s" % (q.name, kind)
    q.sql = name_line + "\n" + text[first.start:].rstrip()
    for t in c:
        if t.kind == "punct" and t.text in "{}":
            raise GenError(path, t.line, "unexpected %r" % t.text)
    # Parameters.
    casts = {}
    seen = set()
    for k, t in enumerate(c):
        if t.kind != "param":
            continue
        seen.add(t.value)
        if k + 1 < len(c) and c[k + 1].is_punct("::"):
            typ, _ = parse_type(c, k + 2, path)
            prev = casts.get(t.value)
            if prev is not None and prev != typ:
                raise GenError(path, t.line, "$%d is cast to %s and to %s"
                               % (t.value, prev.sql(), typ.sql()))
            casts[t.value] = typ
    n = max(seen) if seen else 0
    missing = [i for i in range(1, n + 1) if i not in seen]
    if missing:
        raise GenError(path, line, "%s: $%d is never used (parameters are $1..$%d)"
                       % (q.name, missing[0], n))
    declared = parse_params_line(*h["params"], path) if h["params"] else []
    if len(declared) != n:
        raise GenError(path, h["params"][1] if h["params"] else line,
                       "%s: -- params: names %d parameters, the query uses %d"
                       % (q.name, len(declared), n))
    for i, (pname, nullable, ptype) in enumerate(declared, 1):
        cast = casts.get(i)
        if cast is not None and ptype is not None and cast != ptype:
            raise GenError(path, h["params"][1], "%s: parameter %s is %s in -- params: but "
                           "cast to %s" % (q.name, pname, ptype.sql(), cast.sql()))
        typ = cast or ptype
        if typ is None:
            raise GenError(path, h["params"][1], "%s: cannot type parameter $%d (%s): cast it "
                           "($%d::type) or write %s:type in -- params:"
                           % (q.name, i, pname, i, pname))
        check_param_type(typ, path, h["params"][1], q.name, pname)
        if len(declared) == 1 and pname in FUNC_NAMES:
            raise GenError(path, h["params"][1], "%s: a lone parameter is an argument of the "
                           "generated functions, which use the name %s themselves: rename it"
                           % (q.name, pname))
        q.params.append(Param(i, pname, typ, nullable))
    # Result columns.
    if kind in ("one", "many"):
        scope = Scope(schema, c, path)
        notes = {"nullable": h["nullable"], "notnull": h["notnull"]}
        q.cols = result_columns(scope, c, path, q.name, notes)
        if not q.cols:
            raise GenError(path, line, "%s is :%s but returns no columns" % (q.name, kind))
        for col in q.cols:
            if col.embed is None:
                check_result_type(col.type, path, col.line, q.name, col.name)
            else:
                check_model(col.embed, path, col.line, q.name)
    elif h["nullable"] or h["notnull"] or h["row"]:
        raise GenError(path, line, "%s is :%s: it has no result columns to annotate"
                       % (q.name, kind))
    return q


# Names the generated functions use (query.c.j2): a lone parameter, which is
# an argument of its own, must not take one (two or more are fields of p).
FUNC_NAMES = {"c", "a", "v", "res", "rc", "out", "rows", "n", "affected", "err", "list",
              "count", "row", "p", "pool"}

PARAM_TYPES = {"uuid", "text", "json", "jsonb", "int2", "int4", "int8", "bool", "float8",
               "bytea"}
PARAM_ARRAY_TYPES = {"uuid", "text", "int2", "int4", "int8", "bool", "float8"}
RESULT_TYPES = {"uuid", "text", "json", "jsonb", "int2", "int4", "int8", "bool", "float8",
                "bytea"}


def time_hint(what):
    return ("%s is timestamptz: the C side speaks milliseconds, convert in SQL "
            "(fv_ms_to_ts($n::bigint), fv_ts_to_ms(col)::bigint AS name)" % what)


def check_param_type(typ, path, line, qname, pname):
    if typ.base == "timestamptz":
        raise GenError(path, line, "%s: %s" % (qname, time_hint("parameter " + pname)))
    ok = typ.base in (PARAM_ARRAY_TYPES if typ.array else PARAM_TYPES)
    if not ok:
        raise GenError(path, line, "%s: parameter %s has unsupported type %s"
                       % (qname, pname, typ.sql()))


def check_result_type(typ, path, line, qname, cname):
    if typ.base == "timestamptz":
        raise GenError(path, line, "%s: %s" % (qname, time_hint("column " + cname)))
    ok = (typ.base == "text") if typ.array else typ.base in RESULT_TYPES
    if not ok:
        raise GenError(path, line, "%s: result column %s has unsupported type %s"
                       % (qname, cname, typ.sql()))


def check_model(rel, path, line, qname):
    for col in rel.columns:
        if col.type.base == "timestamptz":
            raise GenError(path, line, "%s: cannot embed %s: its column %s is timestamptz "
                           "(embed a view that converts it with fv_ts_to_ms)"
                           % (qname, rel.name, col.name))
        check_result_type(col.type, path, line, qname, rel.name + "." + col.name)


# ---------------------------------------------------------------------------
# C
# ---------------------------------------------------------------------------

SCALAR_C = {"int2": "int32_t", "int4": "int32_t", "int8": "int64_t", "bool": "bool",
            "float8": "double"}
ARRAY_C = {"uuid": "fv_db_uuid_array", "text": "fv_db_text_array", "int2": "fv_db_int64_array",
           "int4": "fv_db_int64_array", "int8": "fv_db_int64_array", "bool": "fv_db_bool_array",
           "float8": "fv_db_double_array"}
TEXTUAL = ("text", "json", "jsonb")


def result_c_type(typ):
    if typ.array:
        return "fv_db_text_array"
    if typ.base == "uuid":
        return "fv_uuid"
    if typ.base in TEXTUAL:
        return "const char *"
    if typ.base == "bytea":
        return "fv_db_bytes"
    return SCALAR_C[typ.base]


def result_getter(typ):
    if typ.array:
        return "fv_db__get_text_array"
    if typ.base in TEXTUAL:
        return "fv_db__get_text"
    return {"uuid": "fv_db__get_uuid", "bytea": "fv_db__get_bytes", "int2": "fv_db__get_i32",
            "int4": "fv_db__get_i32", "int8": "fv_db__get_i64", "bool": "fv_db__get_bool",
            "float8": "fv_db__get_double"}[typ.base]


def decl(ctype, name):
    return ctype + name if ctype.endswith("*") else ctype + " " + name


def result_fields(cols):
    """Field declarations of a row struct (embedded models by alias)."""
    out = []
    for c in cols:
        if c.embed is not None:
            out.append("fv_db_%s %s;" % (c.embed.name, c.name))
            continue
        out.append(decl(result_c_type(c.type), c.name) + ";")
        if not c.notnull:
            out.append("bool %s_valid;" % c.name)
    return out


def result_reads(cols, target, qexpr):
    """Statements reading one row into `target` (a pointer expression), column
    by column; `col` counts columns, `rc` holds the result."""
    out = []
    k = 0
    for c in cols:
        if c.embed is not None:
            out.append("rc = fv_db__read_%s(res, row, %d, a, &%s->%s, %s, err);"
                       % (c.embed.name, k, target, c.name, qexpr))
            out.append("if (rc != FV_OK)")
            out.append("    return rc;")
            k += len(c.embed.columns)
            continue
        valid = "NULL" if c.notnull else "&%s->%s_valid" % (target, c.name)
        out.append("rc = %s(res, row, %d, a, &%s->%s, %s, %s, \"%s\", err);"
                   % (result_getter(c.type), k, target, c.name, valid, qexpr, c.name))
        out.append("if (rc != FV_OK)")
        out.append("    return rc;")
        k += 1
    return out, k


def model_reads(rel):
    cols = [ResultCol(c.name, c.type, c.notnull, 0) for c in rel.columns]
    out = []
    for k, c in enumerate(cols):
        valid = "NULL" if c.notnull else "&out->%s_valid" % c.name
        out.append("rc = %s(res, row, col0 + %d, a, &out->%s, %s, query, \"%s\", err);"
                   % (result_getter(c.type), k, c.name, valid, c.name))
        out.append("if (rc != FV_OK)")
        out.append("    return rc;")
    return cols, out


def param_c_type(p, single):
    t = p.type
    if t.array:
        return "const %s *" % ARRAY_C[t.base]
    if t.base == "uuid":
        return "const fv_uuid *"
    if t.base in TEXTUAL:
        return "const char *"
    if t.base == "bytea":
        return "fv_db_bytes"
    c = SCALAR_C[t.base]
    if single and p.nullable:
        return "const %s *" % c
    return c


def param_fields(params):
    out = []
    for p in params:
        out.append(decl(param_c_type(p, False), p.name) + ";")
        if p.nullable and p.type.base in SCALAR_C and not p.type.array:
            out.append("bool %s_valid;" % p.name)
    return out


def param_code(p, single, qexpr):
    """Statements setting v[i] to the text of parameter p."""
    i = p.index - 1
    x = p.name if single else "p->" + p.name
    t = p.type
    out = []

    def null_guard(test):
        if not p.nullable:
            out.append("if (%s)" % test)
            out.append("    return fv_db__null_param(%s, \"%s\", err);" % (qexpr, p.name))

    def alloc(expr):
        return ["v[%d] = %s;" % (i, expr), "if (v[%d] == NULL)" % i, "    goto oom;"]

    def pointer(test, body):
        """A value that is NULL when `test` holds."""
        if not p.nullable:
            null_guard(test)
            return out + body
        out.append("if (%s) {" % test)
        out.append("    v[%d] = NULL;" % i)
        out.append("} else {")
        out.extend("    " + s for s in body)
        out.append("}")
        return out

    if t.array:
        fmt = {"uuid": "fv_db__fmt_uuid_array", "text": "fv_db__fmt_text_array",
               "bool": "fv_db__fmt_bool_array", "float8": "fv_db__fmt_double_array"}.get(
            t.base, "fv_db__fmt_int64_array")
        return pointer("%s == NULL" % x, alloc("%s(a, %s)" % (fmt, x)))
    if t.base == "uuid":
        return pointer("%s == NULL" % x, alloc("fv_db__fmt_uuid(a, %s)" % x))
    if t.base in TEXTUAL:
        null_guard("%s == NULL" % x)
        out.append("v[%d] = %s;" % (i, x))
        return out
    if t.base == "bytea":
        return pointer("%s.p == NULL" % x, alloc("fv_db__fmt_bytes(a, %s.p, %s.n)" % (x, x)))
    # Scalars.
    if p.nullable:
        absent = ("%s == NULL" % x) if single else ("!%s_valid" % x)
        value = ("*" + x) if single else x
    else:
        absent, value = None, x
    if t.base == "bool":
        body = ["v[%d] = %s ? \"t\" : \"f\";" % (i, value)]
    elif t.base == "float8":
        body = alloc("fv_db__fmt_double(a, %s)" % value)
    else:
        body = alloc("fv_db__fmt_i64(a, (int64_t)%s)" % value)
    if absent is None:
        return body
    out.append("if (%s) {" % absent)
    out.append("    v[%d] = NULL;" % i)
    out.append("} else {")
    out += ["    " + s for s in body]
    out.append("}")
    return out


def c_string_lines(sql):
    """The SQL text as C string literal lines."""
    out = []
    lines = sql.split("\n")
    for k, ln in enumerate(lines):
        s = ln.replace("\\", "\\\\").replace('"', '\\"').replace("??", "?\\?")
        s = s.replace("\t", "\\t")
        out.append('"%s%s"' % (s, "\\n" if k + 1 < len(lines) else ""))
    return out


class FileModel:
    """What the templates of one query file need."""

    def __init__(self, stem, source, queries, rows):
        self.stem = stem
        self.source = source
        self.guard = "FV_DB_" + re.sub(r"[^A-Za-z0-9]", "_", stem).upper() + "_H"
        self.types = []      # shared struct definitions, each once
        self.functions = []
        seen_types = set()
        for q in queries:
            single = len(q.params) == 1
            f = {"name": q.name, "func": q.func, "kind": q.kind, "line": q.line,
                 "sql_lines": c_string_lines(q.sql), "nparams": len(q.params)}
            qexpr = '"%s"' % q.name
            args = ["fv_pg_conn *c", "fv_arena *a"]
            if len(q.params) >= 2:
                tname = "fv_db_%s_params" % q.base
                if tname not in seen_types:
                    seen_types.add(tname)
                    self.types.append({"name": tname, "fields": param_fields(q.params),
                                       "what": "Parameters of %s." % base_title(q)})
                args.append("const %s *p" % tname)
            elif single:
                args.append(decl(param_c_type(q.params[0], True), q.params[0].name))
            pcode = []
            for p in q.params:
                pcode += param_code(p, single, qexpr)
            f["param_code"] = pcode
            f["needs_oom"] = any("goto oom;" in s for s in pcode)
            if q.cols is not None:
                if len(q.cols) == 1 and q.cols[0].embed is not None and q.cols[0].notnull:
                    rtype = "fv_db_%s" % q.cols[0].embed.name
                    reads = ["rc = fv_db__read_%s(res, row, 0, a, out, %s, err);"
                             % (q.cols[0].embed.name, qexpr),
                             "if (rc != FV_OK)", "    return rc;"]
                    ncols = len(q.cols[0].embed.columns)
                else:
                    rtype = "fv_db_%s_row" % (q.row or q.base)
                    if q.row is not None:
                        prev = rows.get(q.row)
                        if prev is not None and prev[0] != shape(q.cols):
                            raise GenError(q.path, q.line, "%s returns other columns than %s, "
                                           "which shares its -- row: %s"
                                           % (q.name, prev[1], q.row))
                        if prev is not None and prev[2] != stem:
                            raise GenError(q.path, q.line, "-- row: %s is used in two query "
                                           "files: keep its queries in one" % q.row)
                        rows[q.row] = (shape(q.cols), q.name, stem)
                    if rtype not in seen_types:
                        seen_types.add(rtype)
                        self.types.append({"name": rtype, "fields": result_fields(q.cols),
                                           "what": "A row of %s." % (
                                               "the queries sharing -- row: " + q.row
                                               if q.row else base_title(q))})
                    reads, ncols = result_reads(q.cols, "out", qexpr)
                f["row_type"] = rtype
                f["reads"] = reads
                f["ncols"] = ncols
                f["reader"] = "read_%s" % snake(q.name)
                if q.kind == "one":
                    args.append("%s *out" % rtype)
                else:
                    args.append("%s **rows" % rtype)
                    args.append("size_t *n")
            elif q.kind == "execrows":
                args.append("int64_t *affected")
            args.append("fv_error *err")
            f["args"] = args
            f["signature"] = signature(q.func, args)
            # The pool variant: the same arguments, a pool in place of c.
            f["pool_func"] = pool_func(q.func)
            f["pool_signature"] = signature(f["pool_func"], ["fv_pg_pool *pool"] + args[1:])
            f["call_args"] = ", ".join(re.search(r"(\w+)$", x).group(1) for x in args[1:])
            self.functions.append(f)


def pool_func(func):
    """The name of the variant of a query function that borrows a connection
    of a pool for the call."""
    return func + "_on"


def signature(func, args):
    """`fv_err func(args)`, wrapped at 100 columns with arguments aligned."""
    head = "fv_err %s(" % func
    one = head + ", ".join(args) + ")"
    if len(one) + 1 <= 100:
        return one
    lines, cur = [], head
    pad = " " * len(head)
    for k, arg in enumerate(args):
        piece = arg + ("," if k + 1 < len(args) else ")")
        if cur not in (head, pad) and len(cur) + 1 + len(piece) > 99:
            lines.append(cur.rstrip())
            cur = pad
        cur += piece if cur in (head, pad) else " " + piece
    lines.append(cur)
    return "\n".join(lines)


def base_title(q):
    return q.name if q.base == snake(q.name) else "the %s queries" % q.base


def models_of(queries):
    rels = {}
    for q in queries:
        for c in q.cols or []:
            if c.embed is not None:
                rels[c.embed.name] = c.embed
    out = []
    for name in sorted(rels):
        rel = rels[name]
        cols, reads = model_reads(rel)
        out.append({"name": rel.name, "kind": rel.kind, "fields": result_fields(cols),
                    "reads": reads, "ncols": len(cols)})
    return out


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def display(path, root):
    rel = os.path.relpath(os.path.abspath(path), root)
    return path if rel.startswith("..") else rel


def generate(migrations, query_files, root):
    """{file name: content} for the given inputs. Raises GenError."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)
    schema = Schema()
    for path in migrations:
        with open(path, encoding="utf-8") as f:
            schema.load(display(path, root), f.read())
    files = []
    stems = {}
    rows = {}  # -- row: name -> (shape, first query, file stem)
    all_queries = []
    for path in query_files:
        shown = display(path, root)
        stem = os.path.splitext(os.path.basename(path))[0]
        if not re.match(r"^[a-z][a-z0-9_]*$", stem):
            raise GenError(shown, 1, "query file names are lower-case identifiers: %s" % stem)
        if stem in stems:
            raise GenError(shown, 1, "two query files named %s.sql" % stem)
        stems[stem] = shown
        with open(path, encoding="utf-8") as f:
            queries = load_queries(schema, shown, f.read())
        for q in queries:
            for other in all_queries:
                if other.func == q.func:
                    raise GenError(shown, q.line, "query %s is also defined at %s:%d"
                                   % (q.name, other.path, other.line))
        all_queries += queries
        files.append(FileModel(stem, shown, queries, rows))
    funcs = {q.func: q for q in all_queries}
    for q in all_queries:
        clash = funcs.get(pool_func(q.func))
        if clash is not None:
            raise GenError(clash.path, clash.line, "the function of query %s, %s, is the pool "
                           "variant of query %s (%s:%d): rename one of them"
                           % (clash.name, clash.func, q.name, q.path, q.line))
    common = {"tool": TOOL, "migrations": [display(p, root) for p in migrations]}
    out = {}
    out["db_runtime.h"] = env.get_template("runtime.h.j2").render(common)
    out["db_runtime.c"] = env.get_template("runtime.c.j2").render(common)
    models = models_of(all_queries)
    out["db_models.h"] = env.get_template("models.h.j2").render(common, models=models)
    out["db_models.c"] = env.get_template("models.c.j2").render(common, models=models)
    for fm in files:
        ctx = dict(common, f=fm)
        out["db_%s.h" % fm.stem] = env.get_template("query.h.j2").render(ctx)
        out["db_%s.c" % fm.stem] = env.get_template("query.c.j2").render(ctx)
    return out


def write_outputs(outdir, outputs):
    os.makedirs(outdir, exist_ok=True)
    for name in sorted(outputs):
        path = os.path.join(outdir, name)
        data = outputs[name]
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == data:
                    continue
        except OSError:
            pass
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="sqlgen.py", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory of the generated files")
    ap.add_argument("--root", default=os.getcwd(),
                    help="paths in messages and generated comments are relative to it")
    ap.add_argument("--migrations", nargs="*", default=[], help="migration files, in order")
    ap.add_argument("--queries", nargs="*", default=[], help="query files")
    ap.add_argument("--version", action="version", version=TOOL)
    args = ap.parse_args(argv)
    migrations = sorted(args.migrations, key=lambda p: os.path.basename(p))
    queries = sorted(args.queries, key=lambda p: os.path.basename(p))
    try:
        outputs = generate(migrations, queries, os.path.abspath(args.root))
    except GenError as e:
        print("sqlgen: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("sqlgen: %s" % e, file=sys.stderr)
        return 1
    write_outputs(args.out, outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

// POST /books and PUT /books/{id}: store a book ({"title", "author"};
// POST takes its id from the body). 201 when new, 200 when replaced, 400
// without a title.
async function main(params) {
  const id = params.id;
  if (!id || typeof params.title !== 'string' || params.title === '') {
    return { statusCode: 400, body: { error: 'a book needs an id and a title' } };
  }
  const url = `${params.db}/${encodeURIComponent(id)}`;
  const old = await fetch(url);
  const doc = { title: params.title, author: params.author || null };
  if (old.ok) doc._rev = (await old.json())._rev;
  const res = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(doc) });
  if (!res.ok) return { statusCode: 502, body: { error: `database: ${res.status}` } };
  return { statusCode: old.ok ? 200 : 201, body: { id, title: doc.title, author: doc.author } };
}

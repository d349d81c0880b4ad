// GET /books: every book, sorted by id.
async function main(params) {
  const res = await fetch(`${params.db}/_all_docs?include_docs=true`);
  if (!res.ok) return { statusCode: 502, body: { error: `database: ${res.status}` } };
  const all = await res.json();
  return { statusCode: 200, body: { books: all.rows.map(r => ({ id: r.doc._id, title: r.doc.title, author: r.doc.author })) } };
}

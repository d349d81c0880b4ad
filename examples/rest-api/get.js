// GET /books/{id}: one book, or 404.
async function main(params) {
  const res = await fetch(`${params.db}/${encodeURIComponent(params.id)}`);
  if (res.status === 404) return { statusCode: 404, body: { error: `no book ${params.id}` } };
  if (!res.ok) return { statusCode: 502, body: { error: `database: ${res.status}` } };
  const doc = await res.json();
  return { statusCode: 200, body: { id: doc._id, title: doc.title, author: doc.author } };
}

// DELETE /books/{id}: 204, or 404 when there is no such book.
async function main(params) {
  const url = `${params.db}/${encodeURIComponent(params.id)}`;
  const old = await fetch(url);
  if (old.status === 404) return { statusCode: 404, body: { error: `no book ${params.id}` } };
  const { _rev } = await old.json();
  const res = await fetch(`${url}?rev=${_rev}`, { method: 'DELETE' });
  if (!res.ok) return { statusCode: 502, body: { error: `database: ${res.status}` } };
  return { statusCode: 204 };
}

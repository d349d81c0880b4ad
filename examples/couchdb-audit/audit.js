// Writes an audit document for every change of a database: which
// document, which revision, whether it was deleted, and when Gust saw it.
// The rule passes the change (seq, id, changes, deleted, doc) as
// parameters; auditUrl, bound at create, is the audit database.
async function main(params) {
  const rev = (params.changes && params.changes[0] && params.changes[0].rev) || null;
  const entry = {
    _id: params.id + '@' + rev, // one audit document per revision: a retry rewrites nothing
    doc: params.id,
    rev: rev,
    deleted: params.deleted === true,
    seq: params.seq,
    seen: params.__event.time,
    after: params.doc || null,
  };
  const res = await fetch(params.auditUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(entry),
  });
  const body = await res.json();
  if (res.status === 409) {
    return { audited: entry._id, already: true };
  }
  if (!res.ok) {
    throw new Error('audit database answered ' + res.status + ': ' + JSON.stringify(body));
  }
  return { audited: entry._id };
}

// A Stripe-style webhook endpoint: a raw web action that checks the
// Stripe-Signature header (t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">)
// with the secret of its final parameter `secret`, then fires the trigger
// `trigger` with the event's object as a CloudEvent whose id is the
// webhook's event id, so that a redelivery runs the rule once.
const crypto = require('crypto');

const toleranceSeconds = 300;

async function main(p) {
  const headers = p.__ow_headers || {};
  // A raw web action gets a JSON (or binary) body as base64.
  const type = headers['content-type'] || '';
  const body = /json|octet-stream/.test(type) || type === ''
    ? Buffer.from(p.__ow_body || '', 'base64').toString('utf8')
    : p.__ow_body || '';

  const fields = {};
  for (const kv of (headers['stripe-signature'] || '').split(',')) {
    const i = kv.indexOf('=');
    if (i > 0) (fields[kv.slice(0, i).trim()] ||= []).push(kv.slice(i + 1).trim());
  }
  const t = (fields.t || [])[0];
  if (!t || !fields.v1) return reply(400, 'missing or malformed Stripe-Signature header');
  if (Math.abs(Date.now() / 1000 - Number(t)) > toleranceSeconds) return reply(400, 'timestamp outside the tolerance');

  const expected = crypto.createHmac('sha256', p.secret).update(t + '.' + body).digest();
  const ok = fields.v1.some((v) => {
    const got = Buffer.from(v, 'hex');
    return got.length === expected.length && crypto.timingSafeEqual(got, expected);
  });
  if (!ok) return reply(401, 'signature does not match');

  let event;
  try {
    event = JSON.parse(body);
  } catch (e) {
    return reply(400, 'body is not JSON');
  }
  const res = await fetch(`${process.env.__OW_API_HOST}/api/v1/namespaces/_/triggers/${p.trigger}`, {
    method: 'POST',
    headers: {
      'Authorization': 'Basic ' + Buffer.from(p.apikey).toString('base64'),
      'Content-Type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': event.id,
      'ce-source': 'https://stripe.com',
      'ce-type': 'com.stripe.' + event.type,
    },
    body: JSON.stringify(event.data && event.data.object ? event.data.object : {}),
  });
  if (!res.ok && res.status !== 204) return reply(502, `firing ${p.trigger} answered ${res.status}`);
  return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: { received: true, id: event.id } };
}

function reply(statusCode, error) {
  console.log(error);
  return { statusCode, headers: { 'Content-Type': 'application/json' }, body: { error } };
}

// reply answers a Slack app_mention in its thread.
function main(p) {
  const ev = p.event || {};
  const asked = (ev.text || '').replace(/<@[A-Z0-9]+>/g, '').trim();
  return {
    channel: ev.channel,
    thread_ts: ev.thread_ts || ev.ts,
    text: `Hi <@${ev.user}>! You asked: "${asked}". This answer comes from a Gust action.`,
  };
}

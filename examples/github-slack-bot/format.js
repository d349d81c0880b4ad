// format turns a GitHub event (its payload as parameters, its CloudEvent
// attributes as __event) into a Slack message for slack/post.
function main(p) {
  const type = (p.__event && p.__event.type) || '';
  const repo = p.repository ? p.repository.full_name : '';
  let text;
  if (type === 'com.github.push') {
    const n = (p.commits || []).length;
    text = p.deleted
      ? `${p.pusher.name} deleted ${p.ref} of ${repo}`
      : `${p.pusher.name} pushed ${n} commit${n === 1 ? '' : 's'} to ${p.ref} of ${repo}: ${p.compare}`;
  } else if (type.startsWith('com.github.pull_request.')) {
    text = `Pull request #${p.number} ${p.action} in ${repo}: ${p.pull_request.title} ${p.pull_request.html_url}`;
  } else if (type.startsWith('com.github.issues.')) {
    text = `Issue #${p.issue.number} ${p.action} in ${repo}: ${p.issue.title} ${p.issue.html_url}`;
  } else {
    text = `${type} in ${repo}`;
  }
  return { channel: p.channel, text: text };
}

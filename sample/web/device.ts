import Bowser from 'bowser';

/** Longest name shown for a client no parser knows; its whole user agent stays in the tooltip. */
const MAX_NAME = 40;

/**
 * A readable device for the account page, from a session's user agent: "Chrome on Linux", "Safari on iOS". A
 * client the parser does not know goes by the first word of its agent ("curl/8.5.0"), unless that word says
 * nothing ("Mozilla/5.0", which every browser sends).
 */
export function describeDevice(userAgent: string | undefined): string {
  const agent = (userAgent ?? '').trim();
  // `clientInfo` keeps "unknown" when the request had no User-Agent.
  if (agent === '' || agent === 'unknown') return 'Unknown device';
  const { browser, os } = Bowser.parse(agent);
  const first = agent.split(/\s/, 1)[0];
  const name = browser.name || (/^Mozilla\//i.test(first) ? 'Unknown browser' : shorten(first));
  return os.name ? `${name} on ${os.name}` : name;
}

function shorten(text: string): string {
  return text.length > MAX_NAME ? text.slice(0, MAX_NAME - 1) + '…' : text;
}

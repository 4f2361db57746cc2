// Drives moat-broker's web login page in Debian's Chromium (through playwright-core; no browser
// is ever downloaded) and saves a screenshot after each step.
//
//   MOAT_URL=https://127.0.0.1:8443 MOAT_USER=alice MOAT_PASSWORD=… MOAT_SHOTS=/tmp/shots \
//     node login_page.mjs
//
// Environment:
//   MOAT_URL, MOAT_USER, MOAT_PASSWORD, MOAT_SHOTS   required
//   MOAT_STEPS            comma-separated steps to run, in this order (default: all of them
//                         but page-to-desktop):
//                         page, wrong-password, login, sessions, new-desktop, connected,
//                         clipboard, type, reopen, shadow, disconnect, takeover, logoff,
//                         page-to-desktop (from connected on, they need the display WebSocket,
//                         /api/v1/display)
//   MOAT_MARKER           for `type`/`reopen`: the file (in the user's home, as the host sees
//                         it) that the command typed into the xterm writes
//   MOAT_TIMING_RUNS      for `page-to-desktop`: how many timed logins (default 5); needs the
//                         session in MOAT_EXPECT_SESSION or made by new-desktop
//   MOAT_ADMIN_USER, MOAT_ADMIN_PASSWORD   an admin, for `shadow` (which skips without them)
//   MOAT_EXPECT_SESSION   a session id the list must show, with a Connect button (the user's),
//                         or with a "View (read-only)" button when MOAT_EXPECT_VIEW=1
//   MOAT_CONNECT_TIMEOUT_MS   how long `connected` waits for the desktop (default 30000)
//   MOAT_CHROMIUM         the browser (default /usr/bin/chromium)
//
// Prints one line per step; on success the last line is "N passed, 0 failed". Writes
// MOAT_SHOTS/result.json ({"session": id of the desktop that new-desktop made, "steps": …}) and
// MOAT_SHOTS/console.log (the page's console). Exits 0 when every step passed, 1 when one failed
// (the steps after it do not run), 2 on a usage error.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const kAllSteps = [
  'page', 'wrong-password', 'login', 'sessions', 'new-desktop', 'connected', 'clipboard',
  'type', 'reopen', 'shadow', 'disconnect', 'takeover', 'logoff', 'page-to-desktop',
];
const kChromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function usage(message) {
  console.error(`login_page.mjs: ${message}`);
  process.exit(2);
}

function settings() {
  const get = (name) => process.env[name] || usage(`${name} is not set`);
  // page-to-desktop (timing, for the benchmark) runs only when asked for.
  const steps = (process.env.MOAT_STEPS || 'all') === 'all'
    ? kAllSteps.filter((step) => step !== 'page-to-desktop')
    : process.env.MOAT_STEPS.split(',').map((s) => s.trim()).filter(Boolean);
  for (const step of steps) {
    if (!kAllSteps.includes(step)) usage(`unknown step '${step}' (known: ${kAllSteps.join(', ')})`);
  }
  return {
    url: get('MOAT_URL').replace(/\/+$/, ''),
    user: get('MOAT_USER'),
    password: get('MOAT_PASSWORD'),
    shots: get('MOAT_SHOTS'),
    steps,
    expectSession: process.env.MOAT_EXPECT_SESSION || '',
    expectView: process.env.MOAT_EXPECT_VIEW === '1',
    marker: process.env.MOAT_MARKER || '',
    timingRuns: Number(process.env.MOAT_TIMING_RUNS || 5),
    adminUser: process.env.MOAT_ADMIN_USER || '',
    adminPassword: process.env.MOAT_ADMIN_PASSWORD || '',
    connectTimeout: Number(process.env.MOAT_CONNECT_TIMEOUT_MS || 30000),
    chromium: process.env.MOAT_CHROMIUM || '/usr/bin/chromium',
  };
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function shot(ctx, name) {
  await ctx.page.screenshot({ path: path.join(ctx.settings.shots, `${name}.png`) });
}

async function statusText(page) {
  return (await page.textContent('#status')) || '';
}

async function bodyData(page, key) {
  return page.evaluate((k) => document.body.dataset[k] || '', key);
}

// The login form after login: view and token as the page keeps them.
async function waitForView(page, view, timeout = 15000) {
  try {
    await page.waitForSelector(`body[data-view="${view}"]`, { timeout });
  } catch {
    throw new Error(`the page did not show '${view}' (it shows '${await bodyData(page, 'view')}', ` +
                    `status "${await statusText(page)}")`);
  }
}

// Logs in on a page of its own (another browser context: its own sessionStorage).
async function loginOn(ctx, page, user, password) {
  await page.goto(`${ctx.settings.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.click('#login');
  await waitForView(page, 'sessions');
  await page.waitForSelector('#sessions[data-loaded="true"]', { state: 'attached' });
}

// From the list, Connect to `id` and wait for the desktop.
async function connectFromList(ctx, page, id) {
  if (await bodyData(page, 'rfb') === 'connected') return;
  await waitForView(page, 'sessions');
  await page.click(`#sessions button.connect[data-session-id="${id}"]`);
  try {
    await page.waitForSelector('body[data-rfb="connected"]', { timeout: ctx.settings.connectTimeout });
  } catch {
    throw new Error(`could not connect to ${id}: status "${await statusText(page)}"`);
  }
}

// The xterm's window on noVNC's canvas: the bounding box of its white pixels, in page
// coordinates, and how many there are.
async function xtermOnCanvas(page) {
  return page.$eval('#screen canvas', (canvas) => {
    const context = canvas.getContext('2d');
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let count = 0;
    let minX = canvas.width;
    let minY = canvas.height;
    let maxX = 0;
    let maxY = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] === 255 && data[i + 1] === 255 && data[i + 2] === 255) {
        const x = (i / 4) % canvas.width;
        const y = Math.floor(i / 4 / canvas.width);
        count += 1;
        minX = Math.min(minX, x); maxX = Math.max(maxX, x);
        minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      }
    }
    const rect = canvas.getBoundingClientRect();
    const scale = rect.width / canvas.width;
    return {
      count,
      x: rect.left + ((minX + maxX) / 2) * scale,
      y: rect.top + ((minY + maxY) / 2) * scale,
    };
  });
}

// Waits until the canvas shows the xterm (over 20,000 white pixels).
async function awaitXterm(page, timeout) {
  const deadline = Date.now() + timeout;
  let seen = { count: 0 };
  while (Date.now() < deadline) {
    seen = await xtermOnCanvas(page).catch(() => ({ count: 0 }));
    if (seen.count > 20000) return seen;
    await page.waitForTimeout(20);
  }
  throw new Error(`the canvas never showed the xterm (${seen.count} white pixels)`);
}

async function waitForFile(file, timeout) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (fs.existsSync(file)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return fs.existsSync(file);
}

// ---- the steps; each takes the context and throws on failure ----

export const steps = {
  // The page loads from the broker with its security headers, and shows the form.
  async page(ctx) {
    const response = await ctx.page.goto(`${ctx.settings.url}/`, { waitUntil: 'load' });
    check(response && response.status() === 200, `GET / answered ${response && response.status()}`);
    const headers = response.headers();
    check((headers['content-type'] || '').startsWith('text/html'),
          `GET / has Content-Type '${headers['content-type']}'`);
    check((headers['content-security-policy'] || '').includes("default-src 'self'"),
          `GET / has no strict Content-Security-Policy: '${headers['content-security-policy']}'`);
    check(headers['x-frame-options'] === 'DENY', 'GET / has no X-Frame-Options: DENY');
    await ctx.page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
    for (const id of ['username', 'password', 'login']) {
      check(await ctx.page.isVisible(`#${id}`), `#${id} is not visible on the login page`);
    }
    await shot(ctx, '01-login-page');
  },

  // A wrong password shows the broker's message and no session list.
  async 'wrong-password'(ctx) {
    const { page } = ctx;
    await page.fill('#username', ctx.settings.user);
    await page.fill('#password', `${ctx.settings.password}-wrong`);
    await page.click('#login');
    await page.waitForSelector('#status.error', { timeout: 15000 });
    const text = await statusText(page);
    check(text.length > 0, 'the error message is empty');
    check(await bodyData(page, 'view') === 'login', 'a wrong password left the login form');
    check(!(await page.isVisible('#sessions-view')), 'a wrong password showed the session list');
    check(await page.evaluate(() => sessionStorage.getItem('moat.token')) === null,
          'a wrong password left a token behind');
    ctx.log(`  error shown: "${text}"`);
    await shot(ctx, '02-wrong-password');
  },

  async login(ctx) {
    const { page } = ctx;
    if (!(await page.isVisible('#username'))) {
      await page.goto(`${ctx.settings.url}/`);
      await page.waitForSelector('body[data-ready="true"]');
    }
    await page.fill('#username', ctx.settings.user);
    await page.fill('#password', ctx.settings.password);
    await page.click('#login');
    await waitForView(page, 'sessions');
    check(await page.evaluate(() => sessionStorage.getItem('moat.token')), 'no token kept');
    check(await page.inputValue('#password') === '', 'the password stayed in the form');
  },

  // The list of live sessions renders (rows, or the "none" line), with the expected session.
  async sessions(ctx) {
    const { page } = ctx;
    await waitForView(page, 'sessions');
    await page.waitForSelector('#sessions[data-loaded="true"]', { state: 'attached', timeout: 15000 });
    const rows = await page.$$eval('#sessions tbody tr', (trs) => trs.map((tr) => ({
      id: tr.dataset.sessionId,
      connect: !!tr.querySelector('button.connect'),
      view: !!tr.querySelector('button.view'),
    })));
    const none = await page.isVisible('#no-sessions');
    check(rows.length > 0 || none, 'neither sessions nor "no desktop" are shown');
    check(await page.isVisible('#new-desktop'), 'no "New desktop" button');
    ctx.log(`  ${rows.length} session(s) listed`);
    if (ctx.settings.expectSession) {
      const row = rows.find((r) => r.id === ctx.settings.expectSession);
      check(row, `session ${ctx.settings.expectSession} is not listed (listed: ` +
                 `${rows.map((r) => r.id).join(', ') || 'none'})`);
      if (ctx.settings.expectView) {
        check(row.view && !row.connect, `session ${row.id} has no "View (read-only)" button`);
      } else {
        check(row.connect, `session ${row.id} has no Connect button`);
      }
    }
    await shot(ctx, '03-sessions');
  },

  // "New desktop" creates (or gives back) a desktop and starts connecting to it.
  async 'new-desktop'(ctx) {
    const { page } = ctx;
    await waitForView(page, 'sessions');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/sessions') &&
                                  r.request().method() === 'POST', { timeout: 90000 }),
      page.click('#new-desktop'),
    ]);
    const body = await response.json().catch(() => ({}));
    check(response.status() === 201 || response.status() === 200,
          `POST /api/v1/sessions answered ${response.status()}: ${body.message || ''}`);
    ctx.result.session = body.id;
    ctx.log(`  session: ${body.id}${body.reconnected ? ' (given back)' : ''}`);
    // The page goes on to connect: the desktop view with noVNC's canvas in it.
    await page.waitForFunction(() => document.body.dataset.rfb, null, { timeout: 15000 });
    await shot(ctx, '04-new-desktop');
  },

  // The desktop connected: noVNC's canvas shows it. Needs the display WebSocket.
  async connected(ctx) {
    const { page } = ctx;
    try {
      await page.waitForSelector('body[data-rfb="connected"] #screen canvas',
                                 { timeout: ctx.settings.connectTimeout });
    } catch {
      await shot(ctx, 'connect-failed');
      throw new Error(`the desktop never connected in ${ctx.settings.connectTimeout} ms: ` +
                      `data-rfb="${await bodyData(page, 'rfb')}", ` +
                      `close code "${await bodyData(page, 'closeCode')}", ` +
                      `status "${await statusText(page)}"`);
    }
    const size = await page.$eval('#screen canvas', (c) => [c.width, c.height]);
    check(size[0] > 0 && size[1] > 0, `the canvas is ${size[0]}x${size[1]}`);
    check(await page.textContent('#session-id') === ctx.result.session || !ctx.result.session,
          'the top bar names another session');
    ctx.log(`  canvas ${size[0]}x${size[1]}`);
    await page.waitForTimeout(1500);  // let the first frames paint for the screenshot
    await shot(ctx, '05-desktop');
  },

  // Typing into the clipboard box reaches noVNC without breaking the connection.
  async clipboard(ctx) {
    const { page } = ctx;
    await page.fill('#clipboard', 'hello from the browser');
    await page.waitForTimeout(300);
    check(await bodyData(page, 'rfb') === 'connected', 'the connection dropped after a paste');
  },

  // A command typed into the xterm through noVNC runs in the session: it writes the marker.
  async type(ctx) {
    const { page } = ctx;
    check(ctx.settings.marker, 'MOAT_MARKER is not set');
    check(!fs.existsSync(ctx.settings.marker), `${ctx.settings.marker} exists before typing`);
    const xterm = await awaitXterm(page, 15000);
    await page.mouse.click(xterm.x, xterm.y);
    const name = path.basename(ctx.settings.marker);
    await page.keyboard.type(`echo typed-in-chromium > ~/${name}`, { delay: 10 });
    await page.keyboard.press('Enter');
    check(await waitForFile(ctx.settings.marker, 10000),
          `typing into the xterm did not write ${ctx.settings.marker}`);

    // The clipboard, page to desktop: text put in the clipboard box becomes the desktop's
    // selection, which xterm pastes (Shift+Insert) into a command that writes it to a file.
    const clip = `${ctx.settings.marker}-clipboard`;
    const clipText = `pasted-through-novnc-${Date.now()}`;
    await page.fill('#clipboard', clipText);
    await page.waitForTimeout(300);
    await page.mouse.click(xterm.x, xterm.y);
    await page.keyboard.type(`cat > ~/${path.basename(clip)}`, { delay: 10 });
    await page.keyboard.press('Enter');
    // cat writes each line as Enter ends it, and stays open: the selection may reach Xvnc a
    // moment after the box changed, so the paste is tried again until the line arrives.
    const deadline = Date.now() + 15000;
    let pasted = '';
    while (Date.now() < deadline) {
      await page.keyboard.press('Shift+Insert');
      await page.keyboard.press('Enter');
      const tried = Date.now();
      while (Date.now() - tried < 1000) {
        pasted = fs.existsSync(clip) ? fs.readFileSync(clip, 'utf8') : '';
        if (pasted.includes(clipText)) break;
        await page.waitForTimeout(100);
      }
      if (pasted.includes(clipText)) break;
    }
    await page.keyboard.press('Control+D');
    check(pasted.includes(clipText), `the clipboard did not reach the desktop: ${clip} has "${pasted}"`);
    await page.waitForTimeout(500);
    await shot(ctx, '05b-typed');
  },

  // The tab closes (the session keeps running, disconnected); a new tab logs in again, finds the
  // same session and gets the same desktop back, marker and all.
  async reopen(ctx) {
    const id = ctx.result.session;
    check(id, 'no session to come back to (run new-desktop first)');
    await ctx.page.close();
    const page = await ctx.newPage();
    ctx.page = page;
    await loginOn(ctx, page, ctx.settings.user, ctx.settings.password);
    await page.waitForFunction(
      (sid) => document.querySelector(`#sessions tr[data-session-id="${sid}"]`)?.dataset.state ===
               'disconnected', id, { timeout: 15000 })
      .catch(async () => {
        throw new Error(`after closing the tab, session ${id} is not listed as disconnected`);
      });
    await shot(ctx, '05c-reopened-list');
    await connectFromList(ctx, page, id);
    check(await page.textContent('#session-id') === id, 'the desktop shown is another session');
    await awaitXterm(page, 15000);
    if (ctx.settings.marker) {
      check(fs.existsSync(ctx.settings.marker), 'the marker is gone after coming back');
    }
    await page.waitForTimeout(500);
    await shot(ctx, '05d-same-desktop');
  },

  // Timed: from loading the page to the desktop with its xterm on the canvas, logging in and
  // connecting to the user's session (which is left disconnected between runs).
  async 'page-to-desktop'(ctx) {
    const id = ctx.result.session || ctx.settings.expectSession;
    check(id, 'no session to connect to (MOAT_EXPECT_SESSION or new-desktop)');
    if (ctx.page && !ctx.page.isClosed()) await ctx.page.close();
    const times = [];
    for (let run = 0; run < ctx.settings.timingRuns; run += 1) {
      const page = await ctx.newPage();
      const started = Date.now();
      await loginOn(ctx, page, ctx.settings.user, ctx.settings.password);
      await connectFromList(ctx, page, id);
      await awaitXterm(page, 15000);
      times.push(Date.now() - started);
      await page.context().close();
      await new Promise((resolve) => setTimeout(resolve, 300));  // the gateway sees it go
    }
    times.sort((a, b) => a - b);
    ctx.result.page_to_desktop_ms = times;
    ctx.log(`  page to desktop: median ${times[Math.floor(times.length / 2)]} ms of ${times.join(', ')}`);
    ctx.page = await ctx.newPage();
  },

  // An admin, in a browser of their own, watches the desktop read-only beside the owner.
  async shadow(ctx) {
    if (!ctx.settings.adminUser) {
      ctx.log('  skipped: MOAT_ADMIN_USER is not set');
      return;
    }
    const id = ctx.result.session;
    check(id, 'no session to watch (run new-desktop first)');
    const admin = await ctx.newPage();
    try {
      await loginOn(ctx, admin, ctx.settings.adminUser, ctx.settings.adminPassword);
      await admin.click(`#sessions button.view[data-session-id="${id}"]`);
      await admin.waitForSelector('body[data-rfb="connected"] #screen canvas',
                                  { timeout: ctx.settings.connectTimeout });
      check(await admin.isVisible('#view-only'), 'the read-only badge is not shown');
      check(!(await admin.isVisible('#logoff')), 'a read-only viewer is offered Log off');
      await admin.waitForTimeout(1000);
      await admin.screenshot({ path: path.join(ctx.settings.shots, '06-shadow.png') });
      check(await bodyData(ctx.page, 'rfb') === 'connected', 'the owner was disconnected by a viewer');
      await admin.click('#disconnect');
      await waitForView(admin, 'sessions');
    } finally {
      await admin.context().close();
    }
  },

  // Disconnect closes the WebSocket only: back to the list, the session still there.
  async disconnect(ctx) {
    const { page } = ctx;
    const id = await page.textContent('#session-id');
    await page.click('#disconnect');
    await waitForView(page, 'sessions');
    const text = await statusText(page);
    check(/keeps running/.test(text), `after Disconnect the status says "${text}"`);
    await page.waitForSelector(`#sessions tr[data-session-id="${id}"]`, { timeout: 15000 });
    await shot(ctx, '07-disconnected');
  },

  // A second login of the owner takes the desktop over: the first page says so (4001).
  async takeover(ctx) {
    const { page } = ctx;
    const id = ctx.result.session;
    check(id, 'no session to take over (run new-desktop first)');
    await connectFromList(ctx, page, id);
    const second = await ctx.newPage();
    try {
      await loginOn(ctx, second, ctx.settings.user, ctx.settings.password);
      await connectFromList(ctx, second, id);
      await waitForView(page, 'sessions', 15000);
      const text = await statusText(page);
      check(await bodyData(page, 'closeCode') === '4001',
            `the first page's close code is "${await bodyData(page, 'closeCode')}"`);
      check(/taken over/.test(text), `the first page says "${text}"`);
      ctx.log(`  first page: "${text}"`);
      await shot(ctx, '08-taken-over');
      await second.click('#disconnect');
      await waitForView(second, 'sessions');
    } finally {
      await second.context().close();
    }
  },

  // Log off (after the confirmation) ends the session: connects again first if need be.
  async logoff(ctx) {
    const { page } = ctx;
    const id = ctx.result.session;
    check(id, 'no session to log off (run new-desktop first)');
    if (await bodyData(page, 'view') !== 'desktop') await connectFromList(ctx, page, id);
    await page.click('#logoff');  // the confirmation dialog is accepted
    await waitForView(page, 'sessions', 30000);
    const text = await statusText(page);
    check(text.startsWith('Logged off'), `after Log off the status says "${text}"`);
    await page.waitForSelector('#sessions[data-loaded="true"]', { state: 'attached' });
    await page.waitForFunction((sid) => !document.querySelector(`#sessions tr[data-session-id="${sid}"]`),
                               id, { timeout: 15000 });
    await shot(ctx, '09-logged-off');
  },
};

async function main() {
  const s = settings();
  fs.mkdirSync(s.shots, { recursive: true });
  const consoleLines = [];
  const problems = [];  // CSP violations, uncaught errors, requests that leave the broker
  const result = { session: null, steps: {} };
  const log = (line) => console.log(line);

  const browser = await chromium.launch({ executablePath: s.chromium, args: kChromiumArgs });
  let failed = 0;
  let passed = 0;
  try {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
    });
    const page = await context.newPage();
    const origin = new URL(s.url).origin;
    page.on('console', (message) => {
      consoleLines.push(`${message.type()}: ${message.text()}`);
      if (/Content.Security.Policy/i.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    page.on('request', (request) => {
      const url = request.url();
      if (url.startsWith('data:') || url.startsWith('blob:')) return;
      const where = new URL(url);
      const sameHost = where.host === new URL(origin).host;
      if (!sameHost) problems.push(`request outside the broker: ${url}`);
    });
    page.on('dialog', (dialog) => dialog.accept());
    // Another browser (own cookies and storage) for the steps that need a second user agent.
    const newPage = async () => {
      const other = await browser.newContext({
        ignoreHTTPSErrors: true,
        viewport: { width: 1280, height: 800 },
      });
      const otherPage = await other.newPage();
      otherPage.on('pageerror', (error) => problems.push(`uncaught (second page): ${error.message}`));
      otherPage.on('dialog', (dialog) => dialog.accept());
      return otherPage;
    };
    const ctx = { page, settings: s, result, log, newPage };

    for (const name of s.steps) {
      const started = Date.now();
      try {
        await steps[name](ctx);
        check(problems.length === 0, problems.join('; '));
        result.steps[name] = 'ok';
        passed += 1;
        log(`ok   ${name} (${Date.now() - started} ms)`);
      } catch (error) {
        result.steps[name] = `failed: ${error.message}`;
        failed += 1;
        log(`FAIL ${name} (${Date.now() - started} ms): ${error.message}`);
        await shot(ctx, `failed-${name}`).catch(() => {});
        break;
      }
    }
  } finally {
    fs.writeFileSync(path.join(s.shots, 'console.log'), `${consoleLines.join('\n')}\n`);
    fs.writeFileSync(path.join(s.shots, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    await browser.close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

// Run when executed, not when imported (to reuse `steps`).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error) => {
    console.error(`login_page.mjs: ${error.stack || error}`);
    process.exit(1);
  });
}

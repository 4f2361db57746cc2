// Moat's web login page: log in, list your desktops, start or reconnect one, and use it through
// noVNC over the broker's display WebSocket. Copyright the Moat authors; Apache-2.0.
//
// Everything comes from the broker (the CSP allows nothing else): the API under /api/v1, noVNC
// under /novnc (loaded on demand, so the login works even where noVNC is missing). The token
// lives in sessionStorage: it goes with the tab.
//
// For tests (docs/web.md), the page states what it shows on <body>: data-ready once started;
// data-view is login, sessions or desktop; data-rfb is connecting, connected or disconnected;
// data-close-code is the display WebSocket's last close code. Element ids: username, password,
// login, status, sessions (the table, data-loaded="true" once listed; a row per session with
// data-session-id and data-state), new-desktop, Connect buttons (class "connect") and read-only
// View buttons (class "view") with data-session-id, session-id, clipboard, disconnect, logoff.

const $ = (id) => document.getElementById(id);

const kTokenKey = 'moat.token';
const kUserKey = 'moat.user';

// The display WebSocket's close codes (display/display_gateway.h, docs/web.md) and what the
// page says for them; the broker's reason follows.
const kCloseReasons = {
  1000: 'disconnected',
  1001: 'the broker is going away',
  1006: 'the connection was lost',
  1011: 'internal error',
  4001: 'taken over by another login',
  4002: 'session ended',
  4003: 'not allowed',
  4004: 'the broker is stopping',
  4005: 'protocol error',
};

// States whose desktop can be shown.
const kDesktopStates = ['active', 'disconnected'];

const state = {
  token: null,
  user: null,
  connection: null,  // the desktop being shown, see connect()
  lastConnection: null,  // the one that ended last
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---- small helpers ----

function setStatus(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError && text !== '');
  status.dataset.kind = isError ? 'error' : 'info';
}

function showView(name) {
  for (const view of ['login', 'sessions', 'desktop']) {
    $(`${view}-view`).hidden = view !== name;
  }
  document.body.dataset.view = name;
}

function setRfbState(value) {
  document.body.dataset.rfb = value;
}

function formatTime(seconds) {
  if (!seconds) return '';
  return new Date(seconds * 1000).toLocaleString();
}

// One API call; resolves to the parsed JSON (null for 204), or throws ApiError with the
// broker's message.
async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    throw new ApiError(0, 'network', `cannot reach the broker (${error.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && data.message ? data.message : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, (data && data.error) || 'http', message);
  }
  return data;
}

function rememberLogin(token, user) {
  state.token = token;
  state.user = user;
  sessionStorage.setItem(kTokenKey, token);
  sessionStorage.setItem(kUserKey, JSON.stringify(user));
}

function forgetLogin() {
  state.token = null;
  state.user = null;
  sessionStorage.removeItem(kTokenKey);
  sessionStorage.removeItem(kUserKey);
}

// Shows an API error; an expired or revoked token sends the user back to the login form.
function showError(error) {
  if (error instanceof ApiError && error.status === 401 && state.token) {
    forgetLogin();
    closeConnection();
    showView('login');
    setStatus(`Please log in again: ${error.message}`, true);
    return;
  }
  setStatus(error.message, true);
}

// ---- noVNC, loaded when first needed ----

let rfbClass = null;

function loadRfb() {
  if (!rfbClass) {
    rfbClass = import('/novnc/core/rfb.js')
      .then((module) => module.default)
      .catch(async () => {
        rfbClass = null;
        // The broker says why (noVNC not installed, say) in the JSON of the 404.
        let message = 'cannot load noVNC from the broker';
        try {
          const response = await fetch('/novnc/core/rfb.js', { cache: 'no-store' });
          const data = await response.json();
          if (data && data.message) message = data.message;
        } catch {
          // keep the general message
        }
        throw new Error(message);
      });
  }
  return rfbClass;
}

// ---- login ----

async function onLogin(event) {
  event.preventDefault();
  const button = $('login');
  button.disabled = true;
  setStatus('');
  try {
    const result = await api('POST', '/api/v1/login', {
      user: $('username').value.trim(),
      password: $('password').value,
    });
    rememberLogin(result.token, result.user);
    $('password').value = '';
    await showSessions();
  } catch (error) {
    setStatus(error.message, true);
    $('password').select();
  } finally {
    button.disabled = false;
  }
}

async function onLogout() {
  try {
    await api('POST', '/api/v1/logout');
  } catch {
    // the token may have expired already: forget it all the same
  }
  forgetLogin();
  showView('login');
  setStatus('Logged out');
  $('username').focus();
}

// ---- the list of sessions ----

async function showSessions() {
  showView('sessions');
  $('whoami').textContent = `${state.user.name} (${state.user.role})`;
  loadRfb().catch(() => {});  // warm up; errors show when connecting
  await refreshSessions();
}

// Admins and operators may watch others' desktops read-only (the display gateway's rule).
function mayWatchOthers() {
  return state.user.role === 'admin' || state.user.role === 'operator';
}

async function refreshSessions() {
  // Users see their own sessions only (the API enforces it); admins and operators see everyone's
  // and may view them read-only. Auditors are shown their own, like users.
  const query = mayWatchOthers()
    ? '?live=1&limit=1000'
    : `?live=1&limit=1000&user=${encodeURIComponent(state.user.name)}`;
  $('sessions').dataset.loaded = 'false';
  try {
    const data = await api('GET', `/api/v1/sessions${query}`);
    renderSessions(data.sessions || []);
    $('sessions').dataset.loaded = 'true';
  } catch (error) {
    showError(error);
  }
}

function button(label, className, sessionId) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = label;
  element.dataset.sessionId = sessionId;
  return element;
}

function renderSessions(sessions) {
  const body = $('sessions').tBodies[0];
  body.replaceChildren();
  for (const session of sessions) {
    const row = document.createElement('tr');
    row.dataset.sessionId = session.id;
    row.dataset.state = session.state;
    const id = document.createElement('code');
    id.textContent = session.id;
    const cells = [id, session.user, session.state, session.host || '', formatTime(session.created_at)];
    for (const content of cells) {
      const cell = document.createElement('td');
      if (content instanceof Node) cell.append(content);
      else cell.textContent = content;
      row.append(cell);
    }
    const actions = document.createElement('td');
    actions.className = 'actions';
    const own = session.user === state.user.name;
    const action = own ? button('Connect', 'connect', session.id)
                       : button('View (read-only)', 'view', session.id);
    if (!kDesktopStates.includes(session.state)) {
      action.disabled = true;
      action.title = `the session is ${session.state}`;
    }
    actions.append(action);
    row.append(actions);
    body.append(row);
  }
  $('sessions').hidden = sessions.length === 0;
  $('no-sessions').hidden = sessions.length !== 0;
}

function onSessionsClick(event) {
  const target = event.target.closest('button[data-session-id]');
  if (!target || target.disabled) return;
  connect(target.dataset.sessionId, target.classList.contains('view'));
}

async function onNewDesktop() {
  const newDesktop = $('new-desktop');
  newDesktop.disabled = true;
  setStatus('Starting a desktop…');
  try {
    const session = await api('POST', '/api/v1/sessions', { desktop: true });
    setStatus(session.reconnected ? `Your running desktop ${session.id} was given back` : '');
    await connect(session.id, false);
  } catch (error) {
    showError(error);
  } finally {
    newDesktop.disabled = false;
  }
}

// ---- the desktop ----

function displayUrl(sessionId, shadow) {
  const url = new URL('/api/v1/display', window.location.href);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  const query = new URLSearchParams({ session: sessionId, token: state.token });
  if (shadow) query.set('mode', 'shadow');
  url.search = query.toString();
  return url.href;
}

// What the status line says when a connection ends.
function describeEnd(connection) {
  // The broker may close the display (4002, session ended) before the end request answers.
  const endedByLogoff = connection.loggingOff && (!connection.close || connection.close.code === 4002);
  if (connection.loggedOff || endedByLogoff) return [`Logged off ${connection.id}`, false];
  if (connection.userClosed) {
    return [`Disconnected from ${connection.id}; the desktop keeps running`, false];
  }
  if (connection.failure) return [`Disconnected: ${connection.failure}`, true];
  const close = connection.close;
  if (!close) return ['Disconnected', true];
  let text = kCloseReasons[close.code] || 'disconnected';
  if (close.code === 1006 && !connection.connected) text = 'could not connect to the desktop';
  if (close.reason && close.reason !== text) text += `: ${close.reason}`;
  return [`Disconnected: ${text} (${close.code})`, close.code !== 1000];
}

async function connect(sessionId, shadow) {
  let RFB;
  try {
    RFB = await loadRfb();
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  closeConnection();
  const connection = {
    id: sessionId,
    shadow,
    ws: null,
    rfb: null,
    close: null,  // {code, reason} of the WebSocket
    failure: null,  // why noVNC gave up, when it says
    connected: false,
    userClosed: false,
    loggingOff: false,  // Log off asked, the end request not answered yet
    loggedOff: false,
    ended: false,
  };
  state.connection = connection;

  showView('desktop');
  $('session-id').textContent = sessionId;
  $('desktop-view').dataset.sessionId = sessionId;
  $('view-only').hidden = !shadow;
  $('logoff').hidden = shadow;
  $('clipboard').value = '';
  $('clipboard').readOnly = shadow;
  delete document.body.dataset.closeCode;
  setRfbState('connecting');
  setStatus(`Connecting to ${sessionId}…`);

  // The page opens the WebSocket itself, so that it sees the close code and reason (noVNC takes
  // over onclose/onmessage; a listener added first runs before its handler).
  const ws = new WebSocket(displayUrl(sessionId, shadow));
  ws.binaryType = 'arraybuffer';
  connection.ws = ws;
  ws.addEventListener('close', (event) => {
    connection.close = { code: event.code, reason: event.reason };
    document.body.dataset.closeCode = String(event.code);
    // noVNC may have given up before the socket closed: say the better reason now.
    if (connection.ended && state.lastConnection === connection && !state.connection &&
        !connection.userClosed && !connection.loggedOff && !connection.loggingOff) {
      const [text, isError] = describeEnd(connection);
      setStatus(text, isError);
    }
  });

  let rfb;
  try {
    rfb = new RFB($('screen'), ws, { shared: true });
  } catch (error) {
    ws.close();
    connection.failure = `the viewer could not start (${error.message})`;
    endConnection(connection);
    return;
  }
  connection.rfb = rfb;
  rfb.viewOnly = shadow;
  rfb.scaleViewport = true;        // shadows see the whole desktop, scaled to the window
  rfb.resizeSession = !shadow;     // the owner's desktop takes the window's size
  rfb.background = '#0b0d10';
  rfb.addEventListener('connect', () => {
    connection.connected = true;
    setRfbState('connected');
    setStatus('');
    if (!shadow) rfb.focus();
  });
  rfb.addEventListener('disconnect', () => endConnection(connection));
  rfb.addEventListener('securityfailure', (event) => {
    connection.failure = `the desktop refused the connection (${event.detail.reason || event.detail.status})`;
  });
  rfb.addEventListener('credentialsrequired', () => {
    connection.failure = 'the desktop asked for a password';
    rfb.disconnect();
  });
  rfb.addEventListener('clipboard', (event) => {
    $('clipboard').value = event.detail.text;
  });
  rfb.addEventListener('desktopname', (event) => {
    document.title = `${event.detail.name} – Moat`;
  });
}

// After the display connection ended, for whatever reason: say why, back to the list.
function endConnection(connection) {
  if (connection.ended) return;
  connection.ended = true;
  if (state.connection !== connection) return;  // replaced by a newer connection
  state.connection = null;
  state.lastConnection = connection;
  setRfbState('disconnected');
  document.title = 'Moat';
  const [text, isError] = describeEnd(connection);
  setStatus(text, isError);
  if (state.token) {
    showSessions().then(() => explainRefusal(connection));
  } else {
    showView('login');
  }
}

// A refused upgrade reaches the page as a bare 1006: the browser hides the broker's answer.
// Ask the API about the session to say something more useful.
async function explainRefusal(connection) {
  if (connection.connected || connection.userClosed || connection.loggingOff ||
      !connection.close || connection.close.code !== 1006) {
    return;
  }
  let why = null;
  try {
    const session = await api('GET', `/api/v1/sessions/${encodeURIComponent(connection.id)}`);
    if (!kDesktopStates.includes(session.state)) {
      why = `the session is ${session.state}`;
    }
  } catch (error) {
    why = error.status === 404 ? 'no such session' : error.message;
  }
  if (why && state.lastConnection === connection && !state.connection) {
    setStatus(`Could not connect to ${connection.id}: ${why}`, true);
  }
}

// Closes the display connection, if any; the session keeps running.
function closeConnection() {
  const connection = state.connection;
  if (!connection) return;
  if (!connection.loggedOff && !connection.loggingOff) connection.userClosed = true;
  if (connection.rfb) {
    connection.rfb.disconnect();
  } else if (connection.ws) {
    connection.ws.close();
  }
}

function onDisconnect() {
  closeConnection();
}

async function onLogoff() {
  const connection = state.connection;
  if (!connection) return;
  const question = `Log off ${connection.id}? Its programs are ended; unsaved work is lost.`;
  if (!window.confirm(question)) return;
  $('logoff').disabled = true;
  connection.loggingOff = true;
  try {
    await api('POST', `/api/v1/sessions/${encodeURIComponent(connection.id)}/end`, {
      reason: 'logged off from the web page',
    });
    connection.loggedOff = true;
    if (connection.ended) {
      // The desktop closed first (4002): the list was read while the session was ending.
      setStatus(`Logged off ${connection.id}`);
      if (!state.connection) refreshSessions();
    } else {
      closeConnection();
    }
  } catch (error) {
    connection.loggingOff = false;
    showError(error);
  } finally {
    $('logoff').disabled = false;
  }
}

function onClipboardInput() {
  const connection = state.connection;
  if (connection && connection.rfb && connection.connected && !connection.shadow) {
    connection.rfb.clipboardPasteFrom($('clipboard').value);
  }
}

// ---- start ----

async function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  $('refresh').addEventListener('click', () => {
    setStatus('');
    refreshSessions();
  });
  $('new-desktop').addEventListener('click', onNewDesktop);
  $('sessions').addEventListener('click', onSessionsClick);
  $('disconnect').addEventListener('click', onDisconnect);
  $('logoff').addEventListener('click', onLogoff);
  $('clipboard').addEventListener('input', onClipboardInput);

  const token = sessionStorage.getItem(kTokenKey);
  if (token) {
    state.token = token;
    try {
      state.user = await api('GET', '/api/v1/me');
      await showSessions();
      document.body.dataset.ready = 'true';
      return;
    } catch {
      forgetLogin();
    }
  }
  showView('login');
  document.body.dataset.ready = 'true';
  $('username').focus();
}

start();

#!/usr/bin/env node
// Walks an Asana-compatible server with the official Node client (npm
// `asana` 3.x) and prints a JSON summary on stdout (conformance test layer).
// If the generated SDK can page through and parse every reply, the emulator
// speaks the dialect real clients expect; test_conformance.py compares the
// summary with the emulator's own state.
//
// usage: node node_client_check.js --base-url URL --token TOKEN
// exit 0 with {"me":…, "workspaces":[…]}; exit 3 with {"error":{status,body}}.
'use strict';

const Asana = require('asana');

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) {
    args[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  if (!args['base-url'] || args.token === undefined) {
    throw new Error('usage: node_client_check.js --base-url URL --token TOKEN');
  }
  return args;
}

// Follows next_page through Collection.nextPage() until the API says stop.
async function collectAll(firstPage) {
  const items = [];
  let pages = 0;
  let page = await firstPage;
  while (page && page.data) {
    pages += 1;
    items.push(...page.data);
    if (!page._response.next_page) break;
    page = await page.nextPage();
  }
  return {items, pages};
}

const TASK_FIELDS =
    'name,resource_subtype,parent,num_subtasks,created_at,modified_at,permalink_url';
const ATTACHMENT_FIELDS =
    'name,resource_subtype,host,size,created_at,parent,view_url,download_url';

async function walkTask(api, compact) {
  const full = (await api.tasks.getTask(compact.gid, {opt_fields: TASK_FIELDS})).data;
  const subs = await collectAll(
      api.tasks.getSubtasksForTask(compact.gid, {limit: 2}));
  const atts = await collectAll(
      api.attachments.getAttachmentsForObject(compact.gid, {limit: 2}));
  const attachments = [];
  for (const a of atts.items) {
    const rec = (await api.attachments.getAttachment(
                     a.gid, {opt_fields: ATTACHMENT_FIELDS})).data;
    attachments.push({
      gid: rec.gid,
      name: rec.name,
      list_name: a.name,
      resource_subtype: rec.resource_subtype,
      host: rec.host,
      size: rec.size === undefined ? null : rec.size,
      created_at: rec.created_at,
      parent: rec.parent ? rec.parent.gid : null,
      view_url: rec.view_url,
      has_download_url: typeof rec.download_url === 'string',
    });
  }
  const subtasks = [];
  for (const s of subs.items) subtasks.push(await walkTask(api, s));
  return {
    gid: full.gid,
    name: full.name,
    list_name: compact.name,
    resource_subtype: full.resource_subtype,
    parent: full.parent ? full.parent.gid : null,
    num_subtasks: full.num_subtasks,
    created_at: full.created_at,
    modified_at: full.modified_at,
    subtasks,
    subtask_pages: subs.pages,
    attachments,
    attachment_pages: atts.pages,
  };
}

async function main() {
  const args = parseArgs(process.argv);
  const client = Asana.ApiClient.instance;
  client.basePath = args['base-url'];
  client.authentications.token.accessToken = args.token;
  client.timeout = 30000;
  const api = {
    users: new Asana.UsersApi(),
    workspaces: new Asana.WorkspacesApi(),
    projects: new Asana.ProjectsApi(),
    tasks: new Asana.TasksApi(),
    attachments: new Asana.AttachmentsApi(),
  };

  const me = (await api.users.getUser('me', {})).data;
  const summary = {
    me: {
      gid: me.gid,
      name: me.name,
      resource_type: me.resource_type,
      workspaces: (me.workspaces || []).map((w) => w.gid),
    },
    workspaces: [],
  };
  const workspaces = await collectAll(api.workspaces.getWorkspaces({}));
  for (const w of workspaces.items) {
    const ws = {gid: w.gid, name: w.name, projects: []};
    const projects = await collectAll(
        api.projects.getProjectsForWorkspace(w.gid, {limit: 2}));
    for (const p of projects.items) {
      const tasks = await collectAll(
          api.tasks.getTasksForProject(p.gid, {limit: 2}));
      const proj = {gid: p.gid, name: p.name, task_pages: tasks.pages, tasks: []};
      for (const t of tasks.items) proj.tasks.push(await walkTask(api, t));
      ws.projects.push(proj);
    }
    summary.workspaces.push(ws);
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((err) => {
  // superagent errors carry the HTTP status and the parsed body.
  const out = {
    error: {
      status: err.status === undefined ? null : err.status,
      body: err.response ? err.response.body : null,
      message: String(err.message || err),
    },
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(3);
});

# Auth: the only capability a Spider server hands out before login.
#
# Every Spider RPC listener (backend node, Controller, gateway) offers an `Auth` as its bootstrap
# capability, and nothing else: every other capability is reached through the Session that
# `Auth.login` returns, and a Session only hands out what its role allows. A failed login fails the
# call (no Session); a Session method the role does not allow fails with a "permission denied" error.
# A backend node checks every credential against its identity store (`spider-identity`): the admin
# token, agents' tokens, API tokens and users' access tokens; the kind is read from the token itself
# (`spider_agent_…`, `spider_api_…`, `spider_access_…`), so any union member may carry any of them.
# A session's identity is checked again on every call of every capability reached through it: a
# revoked token, a removed user or an expired access token fails the next call with "credential
# revoked or expired".
#
# Roles:
# - admin: everything (ingest, query, agents: register, list, control).
# - agent: ingest and agents.register (an agent pushing data and registering itself).
# - reader: query (integrations, dashboards; users with role viewer), only the data of its teams.
# API tokens carry scopes (`ingest`, `query`, `agents`, `metrics`, `admin`) that say more.

@0x83ef63cf1983a8eb;

using Ingest = import "ingest.capnp";
using Query = import "query.capnp";
using Agent = import "agent.capnp";
using Controller = import "controller.capnp";

struct Credential {
  union {
    adminToken @0 :Text;
    # The long-lived admin API token (`spider up` writes it to DIR/admin.token). Role admin.

    agentToken @1 :Text;
    # A token given to agents (Whisperer, Gocipher, Controller). Role agent.

    apiToken @2 :Text;
    # A scoped token for integrations. Role reader (unless its scopes say more).

    accessToken @3 :Text;
    # A user's short-lived access token (Auth.signIn, Auth.refresh).
  }
}

enum Role {
  admin @0;
  agent @1;
  reader @2;
}

struct Identity {
  role @0 :Role;

  name @1 :Text;
  # Who logged in, for logs and audit (a token's label); null when the token has none.

  scopes @2 :List(Text);
  # The token's scopes (`ingest`, `query`, `agents`, `metrics`, …); the admin token has all.

  expiresAt @3 :Int64;
  # When the session stops working (epoch ns); 0: it lasts as long as the connection.

  allTeams @4 :Bool;
  # True when it sees the data of every team (admins, API tokens without a team).

  teams @5 :List(Text);
  # Otherwise, the teams whose data it sees.

  kind @6 :Text;
  # What logged in: `admin` (the admin token), `agent`, `api` (an API token) or `user`.
}

struct UserTokens {
  # What a user's login or refresh gives: shown once, kept by the backend as hashes only.

  user @0 :Text;
  accessToken @1 :Text;
  accessExpiresAt @2 :Int64;
  # Epoch ns (15 minutes after issue by default).

  refreshToken @3 :Text;
  refreshExpiresAt @4 :Int64;
  # Epoch ns (12 hours by default); a refresh token is used once.
}

struct AgentToken {
  # An agent's token as admins see it (never the secret).
  id @0 :Text;
  name @1 :Text;
  team @2 :Text;
  kind @3 :Text;
  # `whisperer`, `gocipher` or `controller`.
  createdAt @4 :Int64;
  revoked @5 :Bool;
}

struct ApiToken {
  id @0 :Text;
  label @1 :Text;
  scopes @2 :List(Text);
  team @3 :Text;
  # Null or empty: every team.
  createdAt @4 :Int64;
  revoked @5 :Bool;
}

struct User {
  name @0 :Text;
  role @1 :Text;
  # `viewer` or `admin`.
  teams @2 :List(Text);
  createdAt @3 :Int64;
}

interface Identities {
  # Obtained from Session.identities (admins only). Every change is saved before the call returns.

  createTeam @0 (name :Text) -> ();
  listTeams @1 () -> (teams :List(Text));

  createAgent @2 (name :Text, team :Text, kind :Text) -> (agent :AgentToken, token :Text);
  # `token` is shown here once. An agent name belongs to one team.
  listAgents @3 () -> (agents :List(AgentToken));
  revokeAgent @4 (idOrName :Text) -> (revoked :UInt32);
  # Revokes a token by id, or every token of an agent by name; open sessions fail at their next call.

  createApiToken @5 (label :Text, scopes :List(Text), team :Text) -> (info :ApiToken, token :Text);
  listApiTokens @6 () -> (tokens :List(ApiToken));
  revokeApiToken @7 (idOrLabel :Text) -> (revoked :UInt32);

  createUser @8 (name :Text, password :Text, role :Text, teams :List(Text)) -> (user :User);
  listUsers @9 () -> (users :List(User));
  removeUser @10 (name :Text) -> ();
  # Its sessions end at once.
}

interface Session {
  # The capabilities of one login, scoped to its role. They stop working when the connection closes.

  ingest @0 () -> (ingest :Ingest.Ingest);
  # Roles admin and agent.

  query @1 () -> (query :Query.QueryService);
  # Roles admin and reader.

  agents @2 () -> (registry :Agent.AgentRegistry);
  # Roles admin (every method) and agent (register only).

  whoami @3 () -> (identity :Identity);
  # Any role.

  names @4 () -> (names :Controller.NameService);
  # Roles admin and agent, on a Controller's listener; a backend node fails with "unimplemented".

  identities @5 () -> (identities :Identities);
  # Admins only (the admin token, admin users, API tokens with scope `admin`).
}

interface Auth {
  login @0 (credential :Credential) -> (session :Session);
  # Fails with "invalid credential" when the credential is unknown, expired or of an unknown kind,
  # and with "credential revoked or expired" when it was revoked.

  signIn @1 (user :Text, password :Text) -> (tokens :UserTokens);
  # A local user's login (the gateway's `POST /api/v1/login`). Fails with "invalid credential".

  refresh @2 (refreshToken :Text) -> (tokens :UserTokens);
  # New tokens for a refresh token, which is used up.

  signOut @3 (token :Text) -> ();
  # Ends the session of an access or refresh token (both stop working).
}

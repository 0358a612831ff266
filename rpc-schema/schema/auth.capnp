# Auth: the only capability a Spider server hands out before login.
#
# Every Spider RPC listener (backend node, Controller, gateway) offers an `Auth` as its bootstrap
# capability, and nothing else: every other capability is reached through the Session that
# `Auth.login` returns, and a Session only hands out what its role allows. A failed login fails the
# call (no Session); a Session method the role does not allow fails with a "permission denied" error.
# Until real identities exist, servers accept the admin token only (and agent and API tokens when
# configured).
#
# Roles:
# - admin: everything (ingest, query, agents: register, list, control).
# - agent: ingest and agents.register (an agent pushing data and registering itself).
# - reader: query (integrations, dashboards).

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
}

interface Auth {
  login @0 (credential :Credential) -> (session :Session);
  # Fails with "invalid credential" when the credential is unknown, expired or of an unknown kind.
}

-- LimiQuantix read model, one schema per build (``lq`` live, ``lq_rebuild_*`` while rebuilding).
-- {schema} is replaced by a validated identifier; {trgm} by the pg_trgm index block or nothing.
-- Changing any table here means bumping projections.schema.VERSION: the projector then
-- rebuilds the read model from sequence 1 beside the old one and switches.

CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.checkpoint (
    name text PRIMARY KEY,
    seq  bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.vms (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    state       text NOT NULL,
    host_id     text,
    host_name   text,
    vcpus       integer NOT NULL,
    memory_mib  bigint NOT NULL,
    description text NOT NULL DEFAULT '',
    start       boolean NOT NULL DEFAULT false,
    error       text,
    task_id     text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    seq         bigint NOT NULL,
    -- the VM's hardware spec (vm.created, vm.resized, vm.converted_to_*)
    firmware       text NOT NULL DEFAULT 'bios',
    machine        text NOT NULL DEFAULT 'pc',
    boot_order     jsonb NOT NULL DEFAULT '["hd"]',
    max_vcpus      integer NOT NULL DEFAULT 0,
    max_memory_mib bigint NOT NULL DEFAULT 0,
    template       boolean NOT NULL DEFAULT false,
    clone_of       jsonb,
    has_cloud_init boolean NOT NULL DEFAULT false,
    kernel_boot    boolean NOT NULL DEFAULT false,
    -- its devices and snapshot tree: small per-VM documents, always read whole with the VM
    disks               jsonb NOT NULL DEFAULT '[]',
    nics                jsonb NOT NULL DEFAULT '[]',
    snapshots           jsonb NOT NULL DEFAULT '[]',
    snapshot_count      integer NOT NULL DEFAULT 0,
    current_snapshot_id text
);
-- /vms lists hide deleted VMs: partial indexes serve every default sort without a filter.
CREATE INDEX IF NOT EXISTS vms_name_idx ON {schema}.vms (name, id) WHERE state <> 'deleted';
CREATE INDEX IF NOT EXISTS vms_created_idx ON {schema}.vms (created_at, id) WHERE state <> 'deleted';
CREATE INDEX IF NOT EXISTS vms_updated_idx ON {schema}.vms (updated_at, id) WHERE state <> 'deleted';
CREATE INDEX IF NOT EXISTS vms_state_name_idx ON {schema}.vms (state, name, id);
CREATE INDEX IF NOT EXISTS vms_host_name_idx ON {schema}.vms (host_id, name, id);
-- ?template=true|false by name (the UI's VM and template lists): page and count from the
-- index alone, never filtering the whole name index row by row.
CREATE INDEX IF NOT EXISTS vms_template_name_idx ON {schema}.vms (name, id)
    WHERE template AND state <> 'deleted';
CREATE INDEX IF NOT EXISTS vms_plain_name_idx ON {schema}.vms (name, id)
    WHERE NOT template AND state <> 'deleted';

CREATE TABLE IF NOT EXISTS {schema}.hosts (
    id                   text PRIMARY KEY,
    name                 text NOT NULL,
    state                text NOT NULL,
    uri                  text NOT NULL,
    cpus                 integer NOT NULL,
    memory_mib           bigint NOT NULL,
    cpu_overcommit       double precision NOT NULL,
    memory_overcommit    double precision NOT NULL,
    allocated_vcpus      integer NOT NULL DEFAULT 0,
    allocated_memory_mib bigint NOT NULL DEFAULT 0,
    vm_count             integer NOT NULL DEFAULT 0,
    labels               jsonb NOT NULL DEFAULT '{}',
    reason               text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    seq                  bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS hosts_name_idx ON {schema}.hosts (name, id);
CREATE INDEX IF NOT EXISTS hosts_state_name_idx ON {schema}.hosts (state, name, id);

-- One row per VM holding capacity on a host: release is exact and idempotent.
CREATE TABLE IF NOT EXISTS {schema}.reservations (
    host_id    text NOT NULL,
    vm_id      text NOT NULL,
    vcpus      integer NOT NULL,
    memory_mib bigint NOT NULL,
    seq        bigint NOT NULL,
    PRIMARY KEY (host_id, vm_id)
);

CREATE TABLE IF NOT EXISTS {schema}.tasks (
    id          text PRIMARY KEY,
    operation   text NOT NULL,
    target_kind text NOT NULL,
    target_id   text NOT NULL,
    target_name text,
    description text NOT NULL DEFAULT '',
    state       text NOT NULL,
    progress    integer NOT NULL DEFAULT 0,
    message     text NOT NULL DEFAULT '',
    error       text,
    actor       text NOT NULL,
    host_id     text,
    created_at  timestamptz NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz,
    updated_at  timestamptz NOT NULL,
    seq         bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_created_idx ON {schema}.tasks (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tasks_state_idx ON {schema}.tasks (state, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tasks_target_idx ON {schema}.tasks (target_id, created_at DESC, id DESC);

-- The audit log: every event of the stream, known type or not.
CREATE TABLE IF NOT EXISTS {schema}.events (
    seq            bigint NOT NULL,
    index          integer NOT NULL,
    event_id       text NOT NULL,
    type           text NOT NULL,
    schema_version integer NOT NULL,
    aggregate_kind text NOT NULL,
    aggregate_id   text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    actor          text NOT NULL,
    correlation_id text,
    causation_id   text,
    traceparent    text,
    data           jsonb NOT NULL,
    changes        jsonb,
    hash           text,
    PRIMARY KEY (seq, index)
);
CREATE INDEX IF NOT EXISTS events_aggregate_idx
    ON {schema}.events (aggregate_kind, aggregate_id, seq, index);
CREATE INDEX IF NOT EXISTS events_kind_idx ON {schema}.events (aggregate_kind, seq, index);
CREATE INDEX IF NOT EXISTS events_correlation_idx
    ON {schema}.events (correlation_id, seq, index) WHERE correlation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_type_idx ON {schema}.events (type, seq, index);
CREATE INDEX IF NOT EXISTS events_actor_idx ON {schema}.events (actor, seq, index);
CREATE INDEX IF NOT EXISTS events_occurred_idx ON {schema}.events (occurred_at, seq);

-- Settings → Security (projections/security.py). No secrets: the events carry none.
CREATE TABLE IF NOT EXISTS {schema}.users (
    id                  text PRIMARY KEY,
    username            text NOT NULL,
    display_name        text NOT NULL DEFAULT '',
    state               text NOT NULL,
    bindings            jsonb NOT NULL DEFAULT '[]',
    password_changed_at timestamptz,
    last_login_at       timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    seq                 bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS users_name_idx ON {schema}.users (username, id);

CREATE TABLE IF NOT EXISTS {schema}.roles (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    permissions jsonb NOT NULL DEFAULT '[]',
    deleted     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    seq         bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.api_tokens (
    id         text PRIMARY KEY,
    user_id    text NOT NULL,
    name       text NOT NULL,
    scopes     jsonb NOT NULL DEFAULT '[]',
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    seq        bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS api_tokens_user_idx ON {schema}.api_tokens (user_id, created_at DESC);

-- One-time host join tokens (projections/security.py); never the secret or its digest.
CREATE TABLE IF NOT EXISTS {schema}.join_tokens (
    id           text PRIMARY KEY,
    label        text NOT NULL DEFAULT '',
    labels       jsonb NOT NULL DEFAULT '{}',
    cluster_id   text,
    expires_at   timestamptz NOT NULL,
    used_by      text,
    used_by_name text,
    used_at      timestamptz,
    revoked_at   timestamptz,
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    seq          bigint NOT NULL
);

{trgm}

-- Virtual networks, their addresses and security groups (projections/networks.py).
CREATE TABLE IF NOT EXISTS {schema}.networks (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    type         text NOT NULL,
    cidr         text NOT NULL,
    gateway      text NOT NULL,
    dns          jsonb NOT NULL DEFAULT '[]',
    dhcp         boolean NOT NULL DEFAULT true,
    dhcp_start   text NOT NULL DEFAULT '',
    dhcp_end     text NOT NULL DEFAULT '',
    mtu          integer NOT NULL DEFAULT 0,
    vlan_id      integer NOT NULL DEFAULT 0,
    bridge       text NOT NULL DEFAULT '',
    reservations jsonb NOT NULL DEFAULT '[]',
    hosts        jsonb NOT NULL DEFAULT '{}',
    allocated    integer NOT NULL DEFAULT 0,
    deleted      boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    seq          bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS networks_name_idx ON {schema}.networks (name, id);

CREATE TABLE IF NOT EXISTS {schema}.network_addresses (
    network_id text NOT NULL,
    vm_id      text NOT NULL,
    nic_id     text NOT NULL,
    mac        text NOT NULL,
    ip         text,
    state      text NOT NULL,
    error      text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    seq        bigint NOT NULL,
    PRIMARY KEY (network_id, vm_id, nic_id)
);
CREATE INDEX IF NOT EXISTS network_addresses_vm_idx ON {schema}.network_addresses (vm_id);

CREATE TABLE IF NOT EXISTS {schema}.security_groups (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    nics        jsonb NOT NULL DEFAULT '[]',
    deleted     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    seq         bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS security_groups_name_idx ON {schema}.security_groups (name, id);

CREATE TABLE IF NOT EXISTS {schema}.security_group_rules (
    group_id        text NOT NULL,
    rule_id         text NOT NULL,
    position        integer NOT NULL,
    direction       text NOT NULL,
    protocol        text NOT NULL,
    port_min        integer NOT NULL DEFAULT 0,
    port_max        integer NOT NULL DEFAULT 0,
    cidr            text NOT NULL DEFAULT '',
    remote_group_id text NOT NULL DEFAULT '',
    description     text NOT NULL DEFAULT '',
    PRIMARY KEY (group_id, rule_id)
);

-- Storage pools and volumes (projections/storage.py, docs/storage.md).
CREATE TABLE IF NOT EXISTS {schema}.storage_pools (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    type            text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}',
    shared          boolean NOT NULL DEFAULT false,
    overcommit      double precision NOT NULL DEFAULT 1.0,
    declared_bytes  bigint NOT NULL DEFAULT 0,
    capacity_bytes  bigint NOT NULL DEFAULT 0,
    limit_bytes     bigint NOT NULL DEFAULT 0,
    allocated_bytes bigint NOT NULL DEFAULT 0,
    used_bytes      bigint NOT NULL DEFAULT 0,
    available_bytes bigint NOT NULL DEFAULT 0,
    volume_count    integer NOT NULL DEFAULT 0,
    host_count      integer NOT NULL DEFAULT 0,
    state           text NOT NULL DEFAULT 'pending',
    deleted         boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    seq             bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS storage_pools_name_idx ON {schema}.storage_pools (name, id);

CREATE TABLE IF NOT EXISTS {schema}.storage_pool_hosts (
    pool_id          text NOT NULL,
    host_id          text NOT NULL,
    state            text NOT NULL DEFAULT 'pending',
    capacity_bytes   bigint NOT NULL DEFAULT 0,
    allocation_bytes bigint NOT NULL DEFAULT 0,
    available_bytes  bigint NOT NULL DEFAULT 0,
    error            text NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL,
    seq              bigint NOT NULL,
    PRIMARY KEY (pool_id, host_id)
);

CREATE TABLE IF NOT EXISTS {schema}.volumes (
    id               text PRIMARY KEY,
    pool_id          text NOT NULL,
    name             text NOT NULL,
    format           text NOT NULL,
    size_bytes       bigint NOT NULL,
    allocation_bytes bigint NOT NULL DEFAULT 0,
    thin             boolean NOT NULL DEFAULT true,
    state            text NOT NULL,
    operation        text NOT NULL DEFAULT 'create',
    progress         integer NOT NULL DEFAULT 0,
    error            text NOT NULL DEFAULT '',
    clone_of         text NOT NULL DEFAULT '',
    source_url       text NOT NULL DEFAULT '',
    host_id          text NOT NULL DEFAULT '',
    path             text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    seq              bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS volumes_pool_idx ON {schema}.volumes (pool_id, name);
-- the task of the volume's pending (or last) operation (docs/storage.md)
ALTER TABLE {schema}.volumes ADD COLUMN IF NOT EXISTS task_id text NOT NULL DEFAULT '';

-- High availability (projections/ha.py): a VM's protection, shown with the VM.
ALTER TABLE {schema}.vms ADD COLUMN IF NOT EXISTS ha_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE {schema}.vms ADD COLUMN IF NOT EXISTS ha_priority integer NOT NULL DEFAULT 0;

-- DRS recommendations (projections/drs.py): one row per recommendation, newest first.
CREATE TABLE IF NOT EXISTS {schema}.drs_recommendations (
    id               text PRIMARY KEY,
    cluster_id       text NOT NULL DEFAULT '',
    vm_id            text NOT NULL,
    vm_name          text,
    from_host_id     text NOT NULL,
    from_host_name   text,
    to_host_id       text NOT NULL,
    to_host_name     text,
    priority         integer NOT NULL,
    improvement      double precision NOT NULL,
    imbalance_before double precision NOT NULL,
    imbalance_after  double precision NOT NULL,
    reason           text NOT NULL DEFAULT '',
    state            text NOT NULL,
    task_id          text,
    automatic        boolean NOT NULL DEFAULT false,
    error            text,
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    seq              bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS drs_recommendations_state_idx
    ON {schema}.drs_recommendations (state, created_at DESC, id);

-- Clusters, resource pools and affinity rules (projections/clusters.py); host membership
-- and a VM's resource pool are columns of hosts and vms.
ALTER TABLE {schema}.hosts ADD COLUMN IF NOT EXISTS cluster_id text;
ALTER TABLE {schema}.vms ADD COLUMN IF NOT EXISTS resource_pool_id text;
CREATE TABLE IF NOT EXISTS {schema}.clusters (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    ha          jsonb NOT NULL DEFAULT '{}',
    drs         jsonb NOT NULL DEFAULT '{}',
    pools       jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    seq         bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.affinity_rules (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    rule_type   text NOT NULL,
    enforcement text NOT NULL,
    vm_ids      jsonb NOT NULL DEFAULT '[]',
    host_ids    jsonb NOT NULL DEFAULT '[]',
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    seq         bigint NOT NULL
);

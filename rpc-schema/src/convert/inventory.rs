//! `spider_model::inventory` ↔ `inventory.capnp`: a Controller's inventory updates.

use std::collections::BTreeMap;
use std::net::IpAddr;

use capnp::data_list;
use capnp::struct_list;
use spider_model::inventory::{
    InventoryChange, InventoryDelta, InventoryRef, InventorySnapshot, InventoryUpdate,
    NamespaceView, NodeView, ObjectKind, PodView, ServiceView, WorkloadView,
};

use crate::schema::inventory_capnp::{
    inventory_objects, inventory_ref, inventory_update, ObjectKind as WireKind,
};
use crate::schema::records_capnp::name_value;
use crate::wire::{
    checked_text, ip_octets, list_len, read_ip, read_optional_text, read_struct_list, read_text,
    struct_list_len,
};
use crate::SchemaError;

pub(crate) fn write_ips(
    field: &'static str,
    mut list: data_list::Builder<'_>,
    ips: &[IpAddr],
) -> Result<(), SchemaError> {
    let _ = list_len(field, ips.len())?;
    for (index, ip) in (0..list.len()).zip(ips) {
        list.set(index, ip_octets(*ip).as_slice());
    }
    Ok(())
}

pub(crate) fn read_ips(
    field: &'static str,
    list: capnp::Result<data_list::Reader<'_>>,
) -> Result<Vec<IpAddr>, SchemaError> {
    let list = list.map_err(SchemaError::malformed(field))?;
    list.iter()
        .map(|data| read_ip(field, data.map_err(SchemaError::malformed(field))?))
        .collect()
}

fn labels_len(field: &'static str, labels: &BTreeMap<String, String>) -> Result<u32, SchemaError> {
    struct_list_len::<name_value::Owned>(field, labels.len())
}

fn write_labels(
    field: &'static str,
    mut list: struct_list::Builder<'_, name_value::Owned>,
    labels: &BTreeMap<String, String>,
) -> Result<(), SchemaError> {
    for (index, (name, value)) in (0..list.len()).zip(labels) {
        let mut pair = list.reborrow().get(index);
        pair.set_name(checked_text(field, name)?);
        pair.set_value(checked_text(field, value)?);
    }
    Ok(())
}

fn read_labels(
    field: &'static str,
    list: capnp::Result<struct_list::Reader<'_, name_value::Owned>>,
) -> Result<BTreeMap<String, String>, SchemaError> {
    Ok(read_struct_list(field, list, |pair| {
        Ok((
            read_text(field, pair.get_name())?,
            read_text(field, pair.get_value())?,
        ))
    })?
    .into_iter()
    .collect())
}

macro_rules! init_list {
    ($builder:expr, $init:ident, $owned:ty, $field:literal, $items:expr) => {
        $builder
            .reborrow()
            .$init(struct_list_len::<$owned>($field, $items.len())?)
    };
}

/// Writes inventory objects.
pub fn write_inventory_objects(
    mut builder: inventory_objects::Builder<'_>,
    objects: &InventorySnapshot,
) -> Result<(), SchemaError> {
    use crate::schema::inventory_capnp::{namespace, node, pod, service, workload};
    let mut list = init_list!(
        builder,
        init_nodes,
        node::Owned,
        "inventory.nodes",
        objects.nodes
    );
    for (index, view) in (0..).zip(&objects.nodes) {
        let mut item = list.reborrow().get(index);
        item.set_name(checked_text("node.name", &view.name)?);
        let len = list_len("node.addresses", view.addresses.len())?;
        write_ips(
            "node.addresses",
            item.reborrow().init_addresses(len),
            &view.addresses,
        )?;
        let len = labels_len("node.labels", &view.labels)?;
        write_labels(
            "node.labels",
            item.reborrow().init_labels(len),
            &view.labels,
        )?;
        item.set_ready(view.ready);
    }
    let namespaces = &objects.namespaces;
    let mut list = init_list!(
        builder,
        init_namespaces,
        namespace::Owned,
        "inventory.namespaces",
        namespaces
    );
    for (index, view) in (0..).zip(namespaces) {
        let mut item = list.reborrow().get(index);
        item.set_name(checked_text("namespace.name", &view.name)?);
        let len = labels_len("namespace.labels", &view.labels)?;
        write_labels("namespace.labels", item.init_labels(len), &view.labels)?;
    }
    let workloads = &objects.workloads;
    let mut list = init_list!(
        builder,
        init_workloads,
        workload::Owned,
        "inventory.workloads",
        workloads
    );
    for (index, view) in (0..).zip(workloads) {
        let mut item = list.reborrow().get(index);
        item.set_kind(checked_text("workload.kind", &view.kind)?);
        item.set_name(checked_text("workload.name", &view.name)?);
        item.set_namespace(checked_text("workload.namespace", &view.namespace)?);
        item.set_replicas(view.replicas);
        let len = labels_len("workload.labels", &view.labels)?;
        write_labels("workload.labels", item.init_labels(len), &view.labels)?;
    }
    let mut list = init_list!(
        builder,
        init_pods,
        pod::Owned,
        "inventory.pods",
        objects.pods
    );
    for (index, view) in (0..).zip(&objects.pods) {
        let mut item = list.reborrow().get(index);
        item.set_name(checked_text("pod.name", &view.name)?);
        item.set_namespace(checked_text("pod.namespace", &view.namespace)?);
        let len = list_len("pod.ips", view.ips.len())?;
        write_ips("pod.ips", item.reborrow().init_ips(len), &view.ips)?;
        if let Some(node) = &view.node {
            item.set_node(checked_text("pod.node", node)?);
        }
        item.set_workload_kind(checked_text("pod.workload_kind", &view.workload_kind)?);
        item.set_workload(checked_text("pod.workload", &view.workload)?);
        item.set_host_network(view.host_network);
        item.set_phase(checked_text("pod.phase", &view.phase)?);
        let len = labels_len("pod.labels", &view.labels)?;
        write_labels("pod.labels", item.init_labels(len), &view.labels)?;
    }
    let services = &objects.services;
    let mut list = init_list!(
        builder,
        init_services,
        service::Owned,
        "inventory.services",
        services
    );
    for (index, view) in (0..).zip(services) {
        let mut item = list.reborrow().get(index);
        item.set_name(checked_text("service.name", &view.name)?);
        item.set_namespace(checked_text("service.namespace", &view.namespace)?);
        let len = list_len("service.cluster_ips", view.cluster_ips.len())?;
        write_ips(
            "service.cluster_ips",
            item.reborrow().init_cluster_ips(len),
            &view.cluster_ips,
        )?;
        item.set_type(checked_text("service.type", &view.type_)?);
    }
    Ok(())
}

/// Reads inventory objects.
pub fn read_inventory_objects(
    reader: inventory_objects::Reader<'_>,
) -> Result<InventorySnapshot, SchemaError> {
    Ok(InventorySnapshot {
        nodes: read_struct_list("inventory.nodes", reader.get_nodes(), |n| {
            Ok(NodeView {
                name: read_text("node.name", n.get_name())?,
                addresses: read_ips("node.addresses", n.get_addresses())?,
                labels: read_labels("node.labels", n.get_labels())?,
                ready: n.get_ready(),
            })
        })?,
        namespaces: read_struct_list("inventory.namespaces", reader.get_namespaces(), |n| {
            Ok(NamespaceView {
                name: read_text("namespace.name", n.get_name())?,
                labels: read_labels("namespace.labels", n.get_labels())?,
            })
        })?,
        workloads: read_struct_list("inventory.workloads", reader.get_workloads(), |w| {
            Ok(WorkloadView {
                kind: read_text("workload.kind", w.get_kind())?,
                name: read_text("workload.name", w.get_name())?,
                namespace: read_text("workload.namespace", w.get_namespace())?,
                labels: read_labels("workload.labels", w.get_labels())?,
                replicas: w.get_replicas(),
            })
        })?,
        pods: read_struct_list("inventory.pods", reader.get_pods(), |p| {
            Ok(PodView {
                name: read_text("pod.name", p.get_name())?,
                namespace: read_text("pod.namespace", p.get_namespace())?,
                ips: read_ips("pod.ips", p.get_ips())?,
                node: read_optional_text("pod.node", p.has_node(), p.get_node())?,
                workload_kind: read_text("pod.workload_kind", p.get_workload_kind())?,
                workload: read_text("pod.workload", p.get_workload())?,
                host_network: p.get_host_network(),
                phase: read_text("pod.phase", p.get_phase())?,
                labels: read_labels("pod.labels", p.get_labels())?,
            })
        })?,
        services: read_struct_list("inventory.services", reader.get_services(), |s| {
            Ok(ServiceView {
                name: read_text("service.name", s.get_name())?,
                namespace: read_text("service.namespace", s.get_namespace())?,
                cluster_ips: read_ips("service.cluster_ips", s.get_cluster_ips())?,
                type_: read_text("service.type", s.get_type())?,
            })
        })?,
    })
}

fn kind_to_wire(kind: ObjectKind) -> WireKind {
    match kind {
        ObjectKind::Node => WireKind::Node,
        ObjectKind::Namespace => WireKind::Namespace,
        ObjectKind::Workload => WireKind::Workload,
        ObjectKind::Pod => WireKind::Pod,
        ObjectKind::Service => WireKind::Service,
    }
}

fn kind_from_wire(kind: WireKind) -> ObjectKind {
    match kind {
        WireKind::Node => ObjectKind::Node,
        WireKind::Namespace => ObjectKind::Namespace,
        WireKind::Workload => ObjectKind::Workload,
        WireKind::Pod => ObjectKind::Pod,
        WireKind::Service => ObjectKind::Service,
    }
}

fn write_ref(
    mut builder: inventory_ref::Builder<'_>,
    key: &InventoryRef,
) -> Result<(), SchemaError> {
    builder.set_kind(kind_to_wire(key.kind));
    if let Some(namespace) = &key.namespace {
        builder.set_namespace(checked_text("ref.namespace", namespace)?);
    }
    builder.set_name(checked_text("ref.name", &key.name)?);
    if let Some(kind) = &key.workload_kind {
        builder.set_workload_kind(checked_text("ref.workload_kind", kind)?);
    }
    Ok(())
}

fn read_ref(reader: inventory_ref::Reader<'_>) -> Result<InventoryRef, SchemaError> {
    Ok(InventoryRef {
        kind: kind_from_wire(
            reader
                .get_kind()
                .map_err(SchemaError::not_in_schema("ref.kind"))?,
        ),
        namespace: read_optional_text(
            "ref.namespace",
            reader.has_namespace(),
            reader.get_namespace(),
        )?,
        name: read_text("ref.name", reader.get_name())?,
        workload_kind: read_optional_text(
            "ref.workload_kind",
            reader.has_workload_kind(),
            reader.get_workload_kind(),
        )?,
    })
}

/// Writes one inventory update (a snapshot or a delta).
pub fn write_inventory_update(
    mut builder: inventory_update::Builder<'_>,
    update: &InventoryUpdate,
) -> Result<(), SchemaError> {
    builder.set_controller(checked_text("inventory.controller", &update.controller)?);
    builder.set_cluster(checked_text("inventory.cluster", &update.cluster)?);
    builder.set_time(update.time);
    match &update.change {
        InventoryChange::Snapshot(objects) => {
            write_inventory_objects(builder.init_snapshot(), objects)
        }
        InventoryChange::Delta(delta) => {
            let mut wire = builder.init_delta();
            write_inventory_objects(wire.reborrow().init_upserted(), &delta.upserted)?;
            let len =
                struct_list_len::<inventory_ref::Owned>("delta.removed", delta.removed.len())?;
            let mut list = wire.init_removed(len);
            for (index, key) in (0..).zip(&delta.removed) {
                write_ref(list.reborrow().get(index), key)?;
            }
            Ok(())
        }
    }
}

/// Reads one inventory update.
pub fn read_inventory_update(
    reader: inventory_update::Reader<'_>,
) -> Result<InventoryUpdate, SchemaError> {
    use crate::schema::inventory_capnp::inventory_update::Which;
    let change = match reader
        .which()
        .map_err(SchemaError::not_in_schema("inventory.change"))?
    {
        Which::Snapshot(objects) => InventoryChange::Snapshot(read_inventory_objects(
            objects.map_err(SchemaError::malformed("inventory.snapshot"))?,
        )?),
        Which::Delta(delta) => {
            let delta = delta.map_err(SchemaError::malformed("inventory.delta"))?;
            InventoryChange::Delta(InventoryDelta {
                upserted: read_inventory_objects(
                    delta
                        .get_upserted()
                        .map_err(SchemaError::malformed("delta.upserted"))?,
                )?,
                removed: read_struct_list("delta.removed", delta.get_removed(), read_ref)?,
            })
        }
    };
    Ok(InventoryUpdate {
        controller: read_text("inventory.controller", reader.get_controller())?,
        cluster: read_text("inventory.cluster", reader.get_cluster())?,
        time: reader.get_time(),
        change,
    })
}

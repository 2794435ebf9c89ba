#include "placement.hpp"

namespace marllb::scenarios {

std::string_view describe(PlacementClass c) noexcept {
    switch (c) {
    case PlacementClass::smt_siblings: return "smt";
    case PlacementClass::same_package: return "same-package";
    case PlacementClass::cross_numa: return "cross-numa";
    case PlacementClass::unpinned: return "unpinned";
    }
    return "?";
}
std::string_view describe(MemBind m) noexcept {
    switch (m) {
    case MemBind::none: return "none";
    case MemBind::writer: return "writer";
    case MemBind::reader: return "reader";
    case MemBind::interleave: return "interleave";
    }
    return "?";
}
bool parse_placement(std::string_view s, PlacementClass &out) noexcept {
    if (s == "smt") out = PlacementClass::smt_siblings;
    else if (s == "same-package") out = PlacementClass::same_package;
    else if (s == "cross-numa") out = PlacementClass::cross_numa;
    else if (s == "unpinned") out = PlacementClass::unpinned;
    else return false;
    return true;
}
bool parse_mem_bind(std::string_view s, MemBind &out) noexcept {
    if (s == "none") out = MemBind::none;
    else if (s == "writer") out = MemBind::writer;
    else if (s == "reader") out = MemBind::reader;
    else if (s == "interleave") out = MemBind::interleave;
    else return false;
    return true;
}

std::string Placement::label() const {
    if (!available) return std::string(describe(cls)) + " unavailable";
    if (cls == PlacementClass::unpinned) return "unpinned";
    return std::string(describe(cls)) + " cpu" + std::to_string(lb_cpu) + "/cpu" + std::to_string(agent_cpu);
}

std::optional<Topology> Topology::machine(std::string *error) {
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0 || hwloc_topology_load(t) != 0) {
        if (error) *error = "hwloc cannot read this machine's topology";
        return std::nullopt;
    }
    return Topology(t);
}

std::optional<Topology> Topology::synthetic(const std::string &d, std::string *error) {
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0) return std::nullopt;
    if (hwloc_topology_set_synthetic(t, d.c_str()) != 0 || hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        if (error) *error = "invalid synthetic topology '" + d + "'";
        return std::nullopt;
    }
    return Topology(t);
}

Topology::~Topology() {
    if (t_) hwloc_topology_destroy(t_);
}

namespace {
hwloc_obj_t ancestor(hwloc_topology_t t, hwloc_obj_t pu, hwloc_obj_type_t type) {
    return hwloc_get_ancestor_obj_by_type(t, type, pu);
}
int node_of(hwloc_topology_t t, hwloc_obj_t pu) {
    const int n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < n; ++i) {
        hwloc_obj_t node = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, unsigned(i));
        if (hwloc_bitmap_isset(node->cpuset, pu->os_index)) return int(node->os_index);
    }
    return -1;
}
} // namespace

int Topology::numa_nodes() const { return hwloc_get_nbobjs_by_type(t_, HWLOC_OBJ_NUMANODE); }

Placement Topology::plan(PlacementClass cls) const {
    Placement p;
    p.cls = cls;
    if (cls == PlacementClass::unpinned) {
        p.available = true;
        return p;
    }
    const int n = hwloc_get_nbobjs_by_type(t_, HWLOC_OBJ_PU);
    // The first pair (in PU order) that satisfies the class.
    for (int i = 0; i < n; ++i)
        for (int j = i + 1; j < n; ++j) {
            hwloc_obj_t a = hwloc_get_obj_by_type(t_, HWLOC_OBJ_PU, unsigned(i));
            hwloc_obj_t b = hwloc_get_obj_by_type(t_, HWLOC_OBJ_PU, unsigned(j));
            const bool same_core = ancestor(t_, a, HWLOC_OBJ_CORE) == ancestor(t_, b, HWLOC_OBJ_CORE);
            const bool same_pkg = ancestor(t_, a, HWLOC_OBJ_PACKAGE) == ancestor(t_, b, HWLOC_OBJ_PACKAGE);
            const int na = node_of(t_, a), nb = node_of(t_, b);
            bool ok = false;
            switch (cls) {
            case PlacementClass::smt_siblings: ok = same_core; break;
            case PlacementClass::same_package: ok = !same_core && same_pkg && na == nb; break;
            case PlacementClass::cross_numa: ok = na != nb && na >= 0 && nb >= 0; break;
            case PlacementClass::unpinned: break;
            }
            if (ok) {
                p.available = true;
                p.lb_cpu = int(a->os_index), p.agent_cpu = int(b->os_index);
                p.lb_node = na, p.agent_node = nb;
                return p;
            }
        }
    switch (cls) {
    case PlacementClass::smt_siblings: p.why = "no core has two hardware threads"; break;
    case PlacementClass::same_package: p.why = "no package has two cores on one NUMA node"; break;
    case PlacementClass::cross_numa: p.why = "one NUMA node"; break;
    case PlacementClass::unpinned: break;
    }
    return p;
}

std::vector<PlacementClass> Topology::available_classes() const {
    std::vector<PlacementClass> v;
    for (auto c : {PlacementClass::smt_siblings, PlacementClass::same_package, PlacementClass::cross_numa})
        if (plan(c).available) v.push_back(c);
    return v;
}

bool Topology::bind_process(int cpu, std::string *error) const {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    hwloc_bitmap_only(set, unsigned(cpu));
    const int rc = hwloc_set_cpubind(t_, set, HWLOC_CPUBIND_PROCESS);
    hwloc_bitmap_free(set);
    if (rc != 0 && error) *error = "cannot bind to cpu" + std::to_string(cpu) + " (hwloc_set_cpubind)";
    return rc == 0;
}

bool Topology::bind_memory(const void *addr, std::size_t len, const Placement &p, MemBind m, std::string *error) const {
    if (m == MemBind::none || !p.available || p.cls == PlacementClass::unpinned) return true;
    hwloc_bitmap_t nodes = hwloc_bitmap_alloc();
    if (m == MemBind::writer || m == MemBind::interleave) hwloc_bitmap_set(nodes, unsigned(p.lb_node));
    if (m == MemBind::reader || m == MemBind::interleave) hwloc_bitmap_set(nodes, unsigned(p.agent_node));
    const hwloc_membind_policy_t pol = m == MemBind::interleave ? HWLOC_MEMBIND_INTERLEAVE : HWLOC_MEMBIND_BIND;
    const int rc = hwloc_set_area_membind(t_, addr, len, nodes, pol, HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_MIGRATE);
    hwloc_bitmap_free(nodes);
    if (rc != 0 && error) *error = "hwloc_set_area_membind failed for the region";
    return rc == 0;
}

} // namespace marllb::scenarios

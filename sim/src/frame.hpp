// Ethernet/IPv4/TCP frames as the simulated LB sees them: building (the traffic generator)
// and parsing (the LB). Plain bytes, no DPDK types, so the parser can be tested and fuzzed
// on its own; the DPDK driver hands it rte_pktmbuf_mtod() pointers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace marllb::sim {

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;

inline constexpr std::size_t kEthLen = 14, kIpv4Len = 20, kTcpLen = 20;
inline constexpr std::size_t kFrameLen = 60; // 64-byte packet on the wire with its FCS
inline constexpr std::size_t kDstMacOffset = 0;

// The 5-tuple minus the protocol (always TCP here), in host byte order.
struct FlowKey {
    std::uint32_t src_ip = 0, dst_ip = 0;
    std::uint16_t src_port = 0, dst_port = 0;
    friend bool operator==(const FlowKey &, const FlowKey &) = default;
};

enum class Drop : std::uint8_t {
    none = 0,
    truncated,     // shorter than the headers it announces
    not_ipv4,      // EtherType is not IPv4 (0x0800)
    bad_ipv4,      // version != 4, IHL < 5, or total length outside the frame
    fragment,      // a non-first fragment or MF set: no TCP header to read
    not_tcp,       // IPv4 protocol is not TCP
    bad_tcp,       // TCP data offset < 5 or beyond the frame
    count_         // (a well-formed TCP frame is never dropped: without an entry it goes by the hash)
};
inline constexpr std::size_t kDropReasons = std::size_t(Drop::count_);
[[nodiscard]] std::string_view describe(Drop d) noexcept;

struct Parsed {
    FlowKey key;
    std::uint8_t tcp_flags = 0;
    Drop drop = Drop::none; // parse errors only: truncated .. bad_tcp
};

namespace detail {
inline std::uint16_t rd16(const std::uint8_t *p) noexcept {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return __builtin_bswap16(v);
}
inline std::uint32_t rd32(const std::uint8_t *p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}
} // namespace detail

// Why a frame is dropped (Drop::none: a well-formed TCP frame); never reads outside
// [p, p + len). Any side.
[[nodiscard]] inline Drop frame_drop(const std::uint8_t *p, std::size_t len) noexcept {
    using detail::rd16;
    if (len < kEthLen + kIpv4Len) return len >= kEthLen && rd16(p + 12) != 0x0800 ? Drop::not_ipv4 : Drop::truncated;
    if (rd16(p + 12) != 0x0800) return Drop::not_ipv4;
    const std::uint8_t *ip = p + kEthLen;
    const std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    const std::size_t total = rd16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < kIpv4Len || total < ihl || kEthLen + total > len) return Drop::bad_ipv4;
    if ((rd16(ip + 6) & 0x3fff) != 0) return Drop::fragment; // MF or offset
    if (ip[9] != 6) return Drop::not_tcp;
    if (total < ihl + kTcpLen) return Drop::truncated;
    const std::size_t doff = std::size_t(ip[ihl + 12] >> 4) * 4;
    if (doff < kTcpLen || ihl + doff > total) return Drop::bad_tcp;
    return Drop::none;
}

// The TCP header of a frame that frame_drop() passed.
[[nodiscard]] inline const std::uint8_t *frame_tcp(const std::uint8_t *p) noexcept {
    return p + kEthLen + std::size_t(p[kEthLen] & 0x0f) * 4;
}

// The 5-tuple of a frame that frame_drop() passed.
[[nodiscard]] inline FlowKey frame_key(const std::uint8_t *p) noexcept {
    using detail::rd16, detail::rd32;
    const std::uint8_t *ip = p + kEthLen, *tcp = frame_tcp(p);
    return {rd32(ip + 12), rd32(ip + 16), rd16(tcp), rd16(tcp + 2)};
}

// Parses a frame; never reads outside [data, data + len). Any side. A burst's hot loop
// (LoadBalancer::process_burst) calls the three parts itself, so the key stays in registers
// while it is hashed: through this aggregate, GCC assembled the key on the stack in 2- and
// 4-byte pieces and reloaded it in 8-byte words, loads that stall on store forwarding
// (scripts/profile_lb.sh showed them as the burst's hottest instructions).
[[nodiscard]] inline Parsed parse_frame(const std::uint8_t *p, std::size_t len) noexcept {
    Parsed r;
    r.drop = frame_drop(p, len);
    if (r.drop != Drop::none) return r;
    r.key = frame_key(p);
    r.tcp_flags = frame_tcp(p)[13];
    return r;
}

// Writes a kFrameLen-byte client->VIP frame with valid IPv4 checksum. Returns kFrameLen.
std::size_t build_frame(std::uint8_t *out, const FlowKey &key, std::uint8_t tcp_flags,
                        std::uint32_t tcp_seq) noexcept;

// The LB forwards a packet to server s by rewriting its destination MAC to 02:00:00:00:01:s
// (the data plane of a direct-server-return balancer); the world reads s back from it.
void set_server_mac(std::uint8_t *frame, unsigned server) noexcept;
[[nodiscard]] int server_from_mac(const std::uint8_t *frame, std::size_t len) noexcept; // -1 if none

inline constexpr std::uint32_t kVip = 0xC0000201u; // 192.0.2.1, the service address
inline constexpr std::uint16_t kVipPort = 80;

// A data plane that forwards like VPP's lb plugin in L3DSR mode (MARLLB's node.c:566-596: the
// destination address becomes the server's, the DSCP is set, the rest stays) is told server s
// as the address kServerNet + 1 + s (198.51.100.1, .2, ...; docs/vpp.md). from_server_address
// turns such a frame back into what this project's LB forwards: the VIP as destination, s in the
// destination MAC (the IPv4 checksum is not recomputed: the world does not read it). False, and
// the frame untouched, for any other frame.
inline constexpr std::uint32_t kServerNet = 0xC6336400u; // 198.51.100.0/24 (TEST-NET-2)
bool from_server_address(std::uint8_t *frame, std::size_t len) noexcept;

} // namespace marllb::sim

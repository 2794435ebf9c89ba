#include "frame.hpp"

#include <cstring>

namespace marllb::sim {
using detail::rd16;
using detail::rd32;
namespace {

void wr16(std::uint8_t *p, std::uint16_t v) noexcept { p[0] = std::uint8_t(v >> 8); p[1] = std::uint8_t(v); }
void wr32(std::uint8_t *p, std::uint32_t v) noexcept {
    p[0] = std::uint8_t(v >> 24); p[1] = std::uint8_t(v >> 16); p[2] = std::uint8_t(v >> 8); p[3] = std::uint8_t(v);
}

constexpr std::uint8_t kServerMacPrefix[5] = {0x02, 0x00, 0x00, 0x00, 0x01};
constexpr std::uint8_t kClientMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr std::uint8_t kLbMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xfe};

} // namespace

std::string_view describe(Drop d) noexcept {
    switch (d) {
    case Drop::none: return "none";
    case Drop::truncated: return "truncated";
    case Drop::not_ipv4: return "not_ipv4";
    case Drop::bad_ipv4: return "bad_ipv4";
    case Drop::fragment: return "fragment";
    case Drop::not_tcp: return "not_tcp";
    case Drop::bad_tcp: return "bad_tcp";
    case Drop::count_: break;
    }
    return "?";
}

namespace {
// Every client frame is this template with its 5-tuple, sequence number and flags patched in;
// the IPv4 checksum is the template's partial sum plus the source and destination words.
struct Template {
    std::uint8_t bytes[kFrameLen] = {};
    std::uint32_t partial_sum = 0; // header words except addresses and checksum
    Template() {
        std::memcpy(bytes, kLbMac, 6);
        std::memcpy(bytes + 6, kClientMac, 6);
        wr16(bytes + 12, 0x0800);
        std::uint8_t *ip = bytes + kEthLen;
        ip[0] = 0x45;
        wr16(ip + 2, std::uint16_t(kIpv4Len + kTcpLen));
        wr16(ip + 6, 0x4000); // DF
        ip[8] = 64;
        ip[9] = 6;
        for (std::size_t i = 0; i < 12; i += 2) partial_sum += rd16(ip + i);
        std::uint8_t *tcp = ip + kIpv4Len;
        tcp[12] = 5 << 4;
        wr16(tcp + 14, 65535);
    }
};
const Template kTemplate;
} // namespace

std::size_t build_frame(std::uint8_t *out, const FlowKey &key, std::uint8_t flags, std::uint32_t seq) noexcept {
    std::memcpy(out, kTemplate.bytes, kFrameLen);
    std::uint8_t *ip = out + kEthLen;
    wr32(ip + 12, key.src_ip);
    wr32(ip + 16, key.dst_ip);
    std::uint32_t sum = kTemplate.partial_sum + (key.src_ip >> 16) + (key.src_ip & 0xffff) + (key.dst_ip >> 16) +
                        (key.dst_ip & 0xffff);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    wr16(ip + 10, std::uint16_t(~sum));
    std::uint8_t *tcp = ip + kIpv4Len;
    wr16(tcp, key.src_port);
    wr16(tcp + 2, key.dst_port);
    wr32(tcp + 4, seq);
    tcp[13] = flags;
    return kFrameLen;
}

void set_server_mac(std::uint8_t *frame, unsigned server) noexcept {
    std::memcpy(frame + kDstMacOffset, kServerMacPrefix, 5);
    frame[kDstMacOffset + 5] = std::uint8_t(server);
}

int server_from_mac(const std::uint8_t *frame, std::size_t len) noexcept {
    if (len < 6 || std::memcmp(frame, kServerMacPrefix, 5) != 0) return -1;
    return frame[5];
}

bool from_server_address(std::uint8_t *frame, std::size_t len) noexcept {
    if (len < kEthLen + kIpv4Len || frame[12] != 0x08 || frame[13] != 0x00) return false;
    const std::uint32_t dst = rd32(frame + kEthLen + 16);
    if ((dst & 0xffffff00u) != kServerNet || (dst & 0xff) == 0 || (dst & 0xff) == 0xff) return false;
    set_server_mac(frame, (dst & 0xff) - 1);
    wr32(frame + kEthLen + 16, kVip);
    return true;
}

} // namespace marllb::sim

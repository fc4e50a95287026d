// KtlsSocket::Describe: a snapshot for operators. Each direction's lock is held only to
// copy a few fields, so a reader never holds up the data path for longer than that.
#include "socket/ktls_socket.h"
#include "socket/socket_description.h"

namespace ktls::socket {
namespace {

void ReadCounters(const SocketStats& stats, SocketDescription* out) {
  out->tx_records = stats.tx_records.value();
  out->tx_bytes = stats.tx_bytes.value();
  out->tx_wire_bytes = stats.tx_wire_bytes.value();
  out->tx_errors = stats.tx_errors.value();
  out->rx_records = stats.rx_records.value();
  out->rx_bytes = stats.rx_bytes.value();
  out->rx_wire_bytes = stats.rx_wire_bytes.value();
  out->rx_bad_header = stats.rx_bad_header.value();
  out->rx_bad_length = stats.rx_bad_length.value();
  out->rx_bad_record = stats.rx_bad_record.value();
}

}  // namespace

SocketDescription KtlsSocket::Describe() const {
  SocketDescription out;
  out.fd = fd_;
  out.abi = static_cast<int>(abi_.load());
  {
    std::lock_guard lock(tx_mu_);
    if (tx_) {
      const record::RecordLayout& layout = tx_->layout();
      out.tx = {true, static_cast<int>(tx_mode_), layout.suite, layout.version};
      out.tx_pending_bytes = tx_->pending_bytes();
    }
  }
  {
    std::lock_guard lock(rx_mu_);
    if (rx_) {
      const record::RecordLayout& layout = rx_->layout();
      out.rx = {true, static_cast<int>(rx_mode_), layout.suite, layout.version};
    }
  }
  ReadCounters(stats_, &out);
  return out;
}

}  // namespace ktls::socket

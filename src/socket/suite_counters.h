// Maps a session's layout to the FreeBSD counters it moves: stats.ocf.* per record and
// {sw,ifnet,toe}.{gcm,cbc,chacha20} per active session.
#pragma once

#include "control/knobs.h"
#include "record/record_layout.h"

namespace ktls::socket {

control::Counter& EncryptCounter(const record::RecordLayout& layout);
control::Counter& DecryptCounter(const record::RecordLayout& layout);
control::Counter& ModeCounter(control::ModeCounters& mode, const record::RecordLayout& layout);

}  // namespace ktls::socket

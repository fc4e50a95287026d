// The BIO that plays "the kernel" for one SSL: OpenSSL 3.0 hands its kTLS keys to the
// BIO it writes to (BIO_CTRL_SET_KTLS with the Linux tls12_crypto_info_* struct), then
// writes plaintext and reads records with a type, as it does on a socket with the
// kernel's TLS ULP (tls-libraries.md §1.2-§1.5, §2.6). This BIO gives those keys to our
// socket layer through the Linux kTLS ABI (api/linux_abi.h) on the SSL's own descriptor;
// until a direction has keys its bytes pass through unchanged.
//
// What OpenSSL 3.0 does not do, the BIO does itself:
//  - TLS 1.3 receive: OpenSSL never offers it. Once the handshake is done, at a record
//    boundary and with nothing buffered, the BIO installs the receive keys from the
//    handshake capture (handshake_keys.h) the first time OpenSSL asks whether kTLS
//    receive is on, and answers yes from then on. OpenSSL then skips decryption and takes
//    each record as the BIO shapes it: an application_data header over the plaintext
//    followed by the inner content type, which is what its TLS 1.3 record code expects
//    after decryption (3.0 ssl3_get_record).
//  - TLS 1.3 KeyUpdate: OpenSSL 3.0 keeps the old kTLS key. The BIO sees each KeyUpdate
//    pass (sent, or delivered to OpenSSL) and installs the next key right after it.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "base/result.h"

namespace ktls::openssl {

struct KernelBios {
  BIO* read = nullptr;
  BIO* write = nullptr;
};

// Creates the two BIOs (one shared state) over `fd` for `ssl`. `close_fd`: the BIOs own
// the descriptor, as with BIO_CLOSE. `expose_write_fd`: the write BIO is a descriptor BIO
// too, so SSL_get_wfd() finds the descriptor. SSL_sendfile() calls sendfile(2) on that
// descriptor from inside libssl, so expose it only where sendfile(2) reaches our engine.
// ENOMEM.
Result<KernelBios> NewKernelBios(SSL* ssl, int fd, bool close_fd, bool expose_write_fd);

// True if `bio` is one of ours.
bool IsKernelBio(const BIO* bio);

struct KernelBioState {
  int fd = -1;
  bool tx = false;            // records sent by our engine
  bool rx = false;            // records received by our engine
  bool rx_by_bridge = false;  // receive installed by the BIO, not handed over by OpenSSL
  int rx_error = 0;           // why TLS 1.3 receive stays with OpenSSL, once that is settled
};

// The state behind one of our BIOs; EINVAL for any other BIO.
Result<KernelBioState> InspectKernelBio(BIO* bio);

}  // namespace ktls::openssl

#include "sweeper/dovecot/doveadm.hpp"
#include "sweeper/dovecot/http_doveadm.hpp"
#include "sweeper/dovecot/local_doveadm.hpp"

namespace rm::sweep::dovecot {

std::unique_ptr<Doveadm> make_doveadm(const SweepDovecot& endpoint) {
    if (endpoint.url.empty()) return std::make_unique<LocalDoveadm>(endpoint);
    return std::make_unique<HttpDoveadm>(endpoint);
}

}  // namespace rm::sweep::dovecot

#include "sweeper/dovecot/doveadm.hpp"
#include "sweeper/dovecot/local_doveadm.hpp"

namespace rm::sweep::dovecot {

std::unique_ptr<Doveadm> make_doveadm(const SweepDovecot& endpoint) {
    if (endpoint.url.empty()) return std::make_unique<LocalDoveadm>(endpoint);
    throw std::runtime_error("dovecot endpoint \"" + endpoint.name + "\": doveadm's HTTP API is not supported yet");
}

}  // namespace rm::sweep::dovecot

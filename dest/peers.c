/* dest-peers.c: who may connect to a migration's data channel
 * (dest-channel.c): the address of the prepare request, and the source
 * host's own addresses that it lists in "data_from".  Its data may leave
 * by another interface than its request (a migration network, routes);
 * an older vmferry lists none and is served from the request's address.
 * The list comes from a client with an accepted certificate, who may
 * move VMs here anyway: it only keeps everybody else off the listener.
 */
#include <config.h>

#include "internal.h"
#include "net.h"

int
mig_dest_data_peers (const struct api_request *req, char ***peers)
{
  json_t *from = json_object_get (req->body, "data_from"), *v;
  CLEANUP_STRV char **list = NULL;
  struct net_addr a;
  size_t i;

  /* The address the request came from (NAT aside, the source's). */
  if (req->peer_addr && net_addr_parse (req->peer_addr, &a) == 0 &&
      strv_push (&list, req->peer_addr) == -1)
    return -1;
  if (from && !json_is_null (from)) {
    if (!json_is_array (from) ||
        json_array_size (from) > NET_MAX_LOCAL_ADDRS)
      goto bad;
    json_array_foreach (from, i, v) {
      if (!json_is_string (v) ||
          net_addr_parse (json_string_value (v), &a) == -1)
        goto bad;
      if (strv_push (&list, json_string_value (v)) == -1)
        return -1;
    }
  }
  *peers = list;
  list = NULL;
  return 0;
 bad:
  set_error (0, "\"data_from\" must be an array of at most %d IP "
             "addresses", NET_MAX_LOCAL_ADDRS);
  return -1;
}

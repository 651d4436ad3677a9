/*
** order.h: Python's ordering of encoded items (a PriorityQueue orders its
** items under its own lock, without any Lua state).
** See LICENSE for copyright and license.
*/
#ifndef BRAID_ORDER_H
#define BRAID_ORDER_H

#include "wire.h"

/* Orders two items as Python orders values (numbers,
** strings, sequences element by element). Returns BRAID_OK with '*cmp' in
** {-1, 0, 1}, BRAID_ENOTSUP when they cannot be ordered ('why_a'/'why_b'
** name the kinds of the offending pair: "number", "string", "table",
** "value"), or BRAID_EINVAL for a corrupt message. Pure C: safe under a
** lock. */
BRAIDI_FUNC int braid__item_compare(const braid_item *a,
                                    const braid_item *b, int *cmp,
                                    const char **why_a, const char **why_b);

#endif

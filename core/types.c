/* Small shared value types. */
#include "core/types.h"

bool fv_opt_uuid_eq(const fv_opt_uuid *x, const fv_opt_uuid *y)
{
    if (x->has != y->has)
        return false;
    return !x->has || fv_uuid_eq(&x->id, &y->id);
}

bool fv_space_sel_match(const fv_space_sel *sel, const fv_opt_uuid *space)
{
    switch (sel->mode) {
    case FV_SPACE_ANY:
        return true;
    case FV_SPACE_NONE:
        return !space->has;
    case FV_SPACE_ID:
        return space->has && fv_uuid_eq(&space->id, &sel->id);
    }
    return false;
}

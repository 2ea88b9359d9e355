/* The handlers portone-verify and portone-webhook (httpd glue): the body
 * read and checked, the verification run (pv_pipeline), its verdict mapped
 * to an HTTP answer (pv_error's and pv_decide's tables), logged and set as
 * the request notes portone-outcome and portone-imp-uid. */
#ifndef PV_HANDLER_H
#define PV_HANDLER_H

#include "httpd.h"

/* The handler hook; DECLINED for any other handler. */
int pv_handler(request_rec *r);

#endif

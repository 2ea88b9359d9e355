# Building inside httpd's source tree (modules/portone_verify/).
mod_portone_verify.la: mod_portone_verify.slo pv_client.slo pv_decide.slo pv_decimal.slo pv_error.slo pv_json.slo pv_portone.slo pv_request.slo pv_sqlparam.slo pv_stats.slo pv_store.slo
	$(SH_LINK) -rpath $(libexecdir) -module -avoid-version -export-symbols-regex '^portone_verify_module$$' mod_portone_verify.lo pv_client.lo pv_decide.lo pv_decimal.lo pv_error.lo pv_json.lo pv_portone.lo pv_request.lo pv_sqlparam.lo pv_stats.lo pv_store.lo -lcurl -lsqlite3 -lpq
DISTCLEAN_TARGETS = modules.mk
static =
shared =  mod_portone_verify.la

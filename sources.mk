# The one list of the module's sources, read by the Makefile, modules.mk,
# config.m4, the unit tests and the fuzzers. One file a line.
#   mod_portone_verify.c  the module record and its hooks (httpd glue)
#   src/                  the rest of the glue: directives, handlers, status
#   src/core/             no httpd header: the verification pipeline,
#                         decisions, decimals, JSON, SQL parameters, the
#                         PortOne protocol and HTTP client
#   src/store/            the database phase, one file per back-end

PV_GLUE_SRCS = \
    mod_portone_verify.c \
    src/pv_config.c \
    src/pv_dbd.c \
    src/pv_handler.c \
    src/pv_status.c

PV_CORE_SRCS = \
    src/core/pv_client.c \
    src/core/pv_decide.c \
    src/core/pv_decimal.c \
    src/core/pv_error.c \
    src/core/pv_json.c \
    src/core/pv_pipeline.c \
    src/core/pv_portone.c \
    src/core/pv_portone_v2.c \
    src/core/pv_request.c \
    src/core/pv_sqlparam.c \
    src/core/pv_stats.c \
    src/core/pv_webhook.c

PV_STORE_SRCS = \
    src/store/pv_store.c \
    src/store/pv_store_sql.c \
    src/store/pv_store_dbd.c \
    src/store/pv_store_pgsql.c \
    src/store/pv_store_sqlite.c

PV_SRCS     = $(PV_GLUE_SRCS) $(PV_CORE_SRCS) $(PV_STORE_SRCS)
PV_INCLUDES = -Isrc -Isrc/core -Isrc/store
PV_LIBS     = -lcurl -ljson-c -lsqlite3 -lpq -lcrypto

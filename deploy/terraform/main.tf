# Gateway on Scaleway: a private network, managed PostgreSQL reachable only on it, credentials in
# Secret Manager, a public gateway container that autoscales, and a private admin container.
# docs/deploy.md walks through it.

resource "scaleway_vpc_private_network" "gw" {
  name = "${var.name}-pn"
}

# --- Credentials -------------------------------------------------------------------------

resource "random_password" "db" {
  length           = 32
  special          = true
  override_special = "!#%*-_=+:?"
  min_lower        = 1
  min_upper        = 1
  min_numeric      = 1
  min_special      = 1
}

# The Admin API client key: an IAM application allowed to call the private admin container.
# Its secret key is also the admin's own ADMIN_TOKEN, so a client sends ONE `X-Auth-Token`
# that passes Scaleway's private-container check and the admin's token check.
resource "scaleway_iam_application" "admin_client" {
  name        = "${var.name}-admin-client"
  description = "Calls the gateway Admin API (private container)."
}

resource "scaleway_iam_policy" "admin_client" {
  name           = "${var.name}-admin-client"
  application_id = scaleway_iam_application.admin_client.id
  rule {
    project_ids          = [var.project_id]
    permission_set_names = ["ContainersPrivateAccess"]
  }
}

resource "scaleway_iam_api_key" "admin_client" {
  application_id = scaleway_iam_application.admin_client.id
  description    = "Admin API token of ${var.name}"
}

# The containers' own identity: reads the two secrets at start, nothing else.
resource "scaleway_iam_application" "runtime" {
  name        = "${var.name}-runtime"
  description = "Gateway and admin containers: read their credentials from Secret Manager."
}

resource "scaleway_iam_policy" "runtime" {
  name           = "${var.name}-runtime"
  application_id = scaleway_iam_application.runtime.id
  rule {
    project_ids          = [var.project_id]
    permission_set_names = ["SecretManagerSecretAccess"]
  }
}

resource "scaleway_iam_api_key" "runtime" {
  application_id = scaleway_iam_application.runtime.id
  description    = "Secret Manager access of ${var.name} containers"
}

resource "scaleway_secret" "db_password" {
  name = "${var.name}-database-password"
  path = "/"
  tags = [var.name]
}

resource "scaleway_secret_version" "db_password" {
  secret_id = scaleway_secret.db_password.id
  data      = random_password.db.result
}

resource "scaleway_secret" "admin_token" {
  name = "${var.name}-admin-token"
  path = "/"
  tags = [var.name]
}

resource "scaleway_secret_version" "admin_token" {
  secret_id = scaleway_secret.admin_token.id
  data      = scaleway_iam_api_key.admin_client.secret_key
}

# --- Database -----------------------------------------------------------------------------

resource "scaleway_rdb_instance" "db" {
  name           = "${var.name}-db"
  node_type      = var.db_node_type
  engine         = "PostgreSQL-17"
  is_ha_cluster  = false
  user_name      = "gateway"
  password       = random_password.db.result
  disable_backup = false
  private_network {
    pn_id       = scaleway_vpc_private_network.gw.id
    enable_ipam = true
  }
}

resource "scaleway_rdb_database" "gateway" {
  instance_id = scaleway_rdb_instance.db.id
  name        = "gateway"
}

resource "scaleway_rdb_privilege" "gateway" {
  instance_id   = scaleway_rdb_instance.db.id
  user_name     = scaleway_rdb_instance.db.user_name
  database_name = scaleway_rdb_database.gateway.name
  permission    = "all"
}

locals {
  db_endpoint = scaleway_rdb_instance.db.private_network[0]
  # The password is NOT in the URL: both binaries read DATABASE_PASSWORD from Secret Manager.
  database_url = "postgres://gateway@${local.db_endpoint.ip}:${local.db_endpoint.port}/${scaleway_rdb_database.gateway.name}?sslmode=require"
  common_env = {
    DATABASE_URL                = local.database_url
    DATABASE_PASSWORD_SECRET_ID = scaleway_secret.db_password.id
    SCW_DEFAULT_REGION          = var.region
    LOG_FORMAT                  = "json"
    RUST_LOG                    = "info"
  }
}

# --- Containers ---------------------------------------------------------------------------

resource "scaleway_container_namespace" "gw" {
  name = var.name
}

resource "scaleway_container" "gateway" {
  namespace_id           = scaleway_container_namespace.gw.id
  name                   = "${var.name}-gateway"
  image                  = var.gateway_image
  port                   = 8080
  privacy                = "public"
  protocol               = "http1"
  min_scale              = var.gateway_min_scale
  max_scale              = var.gateway_max_scale
  cpu_limit              = 1120
  memory_limit_bytes     = 2147483648
  timeout                = 300
  https_connections_only = true
  sandbox                = "v2"
  private_network_id     = scaleway_vpc_private_network.gw.id
  environment_variables  = merge(local.common_env, var.statsd_host == "" ? {} : { STATSD_HOST = var.statsd_host })
  secret_environment_variables = {
    SCW_SECRET_KEY = scaleway_iam_api_key.runtime.secret_key
  }
  # TCP, not HTTP: every path of the public port belongs to user routes (the seed's probe on `/`
  # collided with a catch-all route).
  liveness_probe {
    tcp {}
    failure_threshold = 30
    interval          = "10s"
    timeout           = "5s"
  }
  scaling_option {
    concurrent_requests_threshold = 80
  }
}

resource "scaleway_container" "admin" {
  namespace_id           = scaleway_container_namespace.gw.id
  name                   = "${var.name}-admin"
  image                  = var.admin_image
  port                   = 8001
  privacy                = "private"
  protocol               = "http1"
  min_scale              = 1
  max_scale              = 1
  cpu_limit              = 280
  memory_limit_bytes     = 536870912
  https_connections_only = true
  sandbox                = "v2"
  private_network_id     = scaleway_vpc_private_network.gw.id
  environment_variables = merge(local.common_env, {
    ADMIN_TOKEN_SECRET_ID = scaleway_secret.admin_token.id
  })
  secret_environment_variables = {
    SCW_SECRET_KEY = scaleway_iam_api_key.runtime.secret_key
  }
  depends_on = [scaleway_secret_version.admin_token, scaleway_secret_version.db_password, scaleway_rdb_privilege.gateway]
}

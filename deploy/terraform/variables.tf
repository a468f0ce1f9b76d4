variable "project_id" {
  description = "Scaleway project holding every resource of the gateway."
  type        = string
}

variable "region" {
  description = "Scaleway region (fr-par, nl-ams, pl-waw)."
  type        = string
  default     = "fr-par"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "gw"
}

variable "gateway_image" {
  description = "Image of the gateway (deploy/Dockerfile --target gateway), e.g. rg.fr-par.scw.cloud/gw/gateway:1.0.0."
  type        = string
}

variable "admin_image" {
  description = "Image of the admin API (deploy/Dockerfile --target admin)."
  type        = string
}

variable "gateway_min_scale" {
  description = "Gateway instances kept warm (0 allows scale to zero; the first request then pays the cold start)."
  type        = number
  default     = 1
}

variable "gateway_max_scale" {
  description = "Upper bound of gateway instances. Each holds a few database connections (see docs/deploy.md)."
  type        = number
  default     = 5
}

variable "db_node_type" {
  description = "Managed PostgreSQL node type."
  type        = string
  default     = "DB-DEV-S"
}

variable "statsd_host" {
  description = "Where the statsd plugin should send metrics, passed to containers as STATSD_HOST for your plugin configs (empty: none)."
  type        = string
  default     = ""
}

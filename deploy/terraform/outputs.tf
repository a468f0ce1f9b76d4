output "gateway_url" {
  description = "Public endpoint of the gateway."
  value       = scaleway_container.gateway.public_endpoint
}

output "admin_url" {
  description = "Endpoint of the private Admin API (send X-Auth-Token: <admin_token>)."
  value       = scaleway_container.admin.public_endpoint
}

output "admin_token" {
  description = "Admin API token (also the IAM key allowed to reach the private admin container)."
  value       = scaleway_iam_api_key.admin_client.secret_key
  sensitive   = true
}

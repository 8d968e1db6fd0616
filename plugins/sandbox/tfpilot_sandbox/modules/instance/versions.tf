terraform {
  required_version = ">= 1.5"

  required_providers {
    sandbox = {
      source  = "tfpilot/sandbox"
      version = "~> 0.1"
    }
  }
}

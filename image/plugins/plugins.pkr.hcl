# Plugin pins for Packer >= 1.7, where builders and provisioners live outside the core binary.
# Kept apart from the template so Packer 1.6.6 (whose core still bundles them and which has no
# `required_plugins`) can validate and build image/ as it is: `packer init image/plugins` first.
packer {
  required_version = ">= 1.7.0"

  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0, < 2.0.0"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = ">= 1.1.0, < 2.0.0"
    }
    docker = {
      source  = "github.com/hashicorp/docker"
      version = ">= 1.0.0, < 2.0.0"
    }
  }
}

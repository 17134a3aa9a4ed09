# The golden image in two layers: `base` (company standard packages, rarely rebuilt) and `app`
# (Consul, dnsmasq, consul-template, stretcher and the app's unit, built on the base AMI), plus a
# `docker` source that runs the same playbooks for quick trials without an AMI.
# image/build.py builds one layer per run (`-only=amazon-ebs.<layer>`) and reads the manifest.

packer {
  # 1.10 and later are not open source (BUSL); tests/test_image_tool_licences.py holds the same line.
  required_version = ">= 1.9.0, < 1.10.0"

  # Pinned exactly: scripts/go-tools builds this version into .tools/packer-plugins, and
  # `packer init` then finds it without the network. The ansible and docker plugins are the ones
  # bundled in Packer 1.9 (ansible 1.0.3, docker 1.0.8), so they need no pin here.
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "1.8.0"
    }
  }
}

# --- What to build from ---------------------------------------------------------------------

variable "region" {
  type        = string
  description = "Region the builder runs in and the AMIs live in."
}

variable "base_source_ami" {
  type        = string
  default     = ""
  description = "AMI the base layer starts from (a stock Debian 12 image); only the base layer uses it."
}

variable "base_ami" {
  type        = string
  default     = ""
  description = "AMI the app layer starts from: the base layer's AMI; only the app layer uses it."
}

variable "instance_type" {
  type        = string
  default     = "t3.small"
  description = "Builder instance type."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Subnet for the builder; empty uses the default VPC."
}

variable "ssh_username" {
  type        = string
  default     = "admin"
  description = "Login user of the source AMI (Debian images use admin)."
}

variable "builder_cidrs" {
  type        = list(string)
  description = "Addresses allowed into the builder's temporary security group: the build host's."

  validation {
    condition     = length(var.builder_cidrs) > 0 && !contains(var.builder_cidrs, "0.0.0.0/0")
    error_message = "The builder_cidrs value must name the build host's address, e.g. [\"203.0.113.7/32\"], never 0.0.0.0/0."
  }
}

variable "kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key for the encrypted snapshots; empty uses the account's default EBS key."
}

# --- How the AMIs are named and labelled -------------------------------------------------------

variable "name_prefix" {
  type        = string
  default     = "webtier"
  description = "AMI names start with this."
}

variable "role" {
  type        = string
  default     = "webtier"
  description = "Value of the role tag: which service the image is for."
}

variable "content_hash" {
  type        = string
  description = "Content hash of this layer's inputs (components/image/inputs.py); tagged on the AMI."

  validation {
    condition     = length(var.content_hash) == 64
    error_message = "The content_hash value must be the 64-character sha256 hex digest from components/image/inputs.py."
  }
}

variable "git_revision" {
  type        = string
  default     = "unknown"
  description = "Commit the inputs came from; a label only, never part of the content hash."
}

variable "build_token" {
  type        = string
  default     = ""
  description = "Set by build.py to find this run's entry in the manifest."
}

variable "manifest_path" {
  type        = string
  default     = ""
  description = "Where the manifest post-processor writes; empty means manifest.json next to this file."
}

variable "docker_image" {
  type        = string
  default     = "debian:bookworm"
  description = "Image the docker trial source starts from."
}

# --- API-level dry runs against a local EC2 double (moto); real builds keep the defaults --------

variable "provision" {
  type        = bool
  default     = true
  description = "Run the steps that need a shell on the builder (cloud-init wait, Ansible); false only for dry runs with communicator none."
}

variable "communicator" {
  type        = string
  default     = "ssh"
  description = "ssh for real builds; none for dry runs against an EC2 double."
}

variable "ec2_endpoint" {
  type        = string
  default     = ""
  description = "EC2 API endpoint override; empty means AWS itself."
}

variable "skip_aws_checks" {
  type        = bool
  default     = false
  description = "Skip the credential, region and metadata-service checks, which need STS and IMDS an EC2 double lacks."
}

locals {
  # A timestamp keeps AMI names unique when the same inputs are built again (e.g. after pruning).
  stamp           = formatdate("YYYYMMDDhhmmss", timestamp())
  manifest_path   = var.manifest_path != "" ? var.manifest_path : "${path.root}/manifest.json"
  ansible_dir     = "${path.root}/ansible"
  trial_container = "packer-${var.name_prefix}-trial"

  labels = {
    role           = var.role
    "content-hash" = var.content_hash
    "git-revision" = var.git_revision
  }

  ami_sources = ["amazon-ebs.base", "amazon-ebs.app"]
  # Steps that need a shell on the builder are left out of dry runs (communicator none).
  no_shell = var.provision ? [] : concat(local.ami_sources, ["docker.trial"])
}

# Everything the two layers share; the build block fills in what differs per layer.
source "amazon-ebs" "golden" {
  region        = var.region
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  communicator  = var.communicator
  ssh_username  = var.ssh_username

  # Only the build host may reach the builder while it is being provisioned.
  temporary_security_group_source_cidrs = var.builder_cidrs

  # The AMI is copied with an encrypted snapshot; the unencrypted intermediate is deregistered.
  encrypt_boot = true
  kms_key_id   = var.kms_key_id

  # The builder's run tags (its Name "packer-builder …") describe the builder, not the AMI, which
  # gets its own tags and snapshot_tags below. (moto cannot tag snapshots in CreateImage either.)
  skip_ami_run_tags = true

  # The builder's metadata service answers only session tokens (IMDSv2) from its first boot,
  # before anything is provisioned, and a container on it cannot reach the service.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  custom_endpoint_ec2        = var.ec2_endpoint
  skip_credential_validation = var.skip_aws_checks
  skip_metadata_api_check    = var.skip_aws_checks
  skip_region_validation     = var.skip_aws_checks
}

source "docker" "trial" {
  image  = var.docker_image
  commit = true
  # A fixed container name lets Ansible address it through `docker exec`.
  run_command = ["-d", "-i", "-t", "--name", local.trial_container, "--entrypoint=/bin/sh", "--", "{{.Image}}"]
}

build {
  source "amazon-ebs.golden" {
    name            = "base"
    source_ami      = var.base_source_ami
    ami_name        = "${var.name_prefix}-base-${local.stamp}"
    ami_description = "${var.role} golden image, base layer, inputs ${var.content_hash}"
    tags            = merge(local.labels, { layer = "base", Name = "${var.name_prefix}-base" })
    snapshot_tags   = merge(local.labels, { layer = "base" })
    run_tags        = { Name = "packer-builder ${var.name_prefix}-base", role = var.role }
  }

  source "amazon-ebs.golden" {
    name            = "app"
    source_ami      = var.base_ami
    ami_name        = "${var.name_prefix}-app-${local.stamp}"
    ami_description = "${var.role} golden image, app layer, inputs ${var.content_hash}"
    tags            = merge(local.labels, { layer = "app", Name = "${var.name_prefix}-app" })
    snapshot_tags   = merge(local.labels, { layer = "app" })
    run_tags        = { Name = "packer-builder ${var.name_prefix}-app", role = var.role }
  }

  source "docker.trial" {
    name = "trial"
  }

  # apt must not race cloud-init's own package run; newer cloud-init exits 2 for recoverable
  # warnings, which still means it has finished.
  provisioner "shell" {
    except           = concat(["docker.trial"], local.no_shell)
    inline           = ["cloud-init status --wait"]
    valid_exit_codes = [0, 2]
  }

  # The trial container starts from a bare Debian image: Ansible needs Python, units need systemd.
  provisioner "shell" {
    only   = ["docker.trial"]
    inline = ["apt-get update -q", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 sudo systemd"]
  }

  provisioner "ansible" {
    except           = local.no_shell
    playbook_file    = "${local.ansible_dir}/${source.name}.yml"
    user             = var.ssh_username
    use_proxy        = false
    ansible_env_vars = ["ANSIBLE_CONFIG=${local.ansible_dir}/ansible.cfg"]

    override = {
      trial = {
        # No SSH in the container: Ansible talks to it through `docker exec`.
        use_proxy       = true
        extra_arguments = ["--extra-vars", "ansible_connection=docker ansible_host=${local.trial_container} ansible_user=root"]
      }
    }
  }

  # Seal: every instance must boot as a new machine (its own machine-id, a fresh cloud-init run)
  # and carry no build leftovers.
  provisioner "shell" {
    except          = concat(["docker.trial"], local.no_shell)
    execute_command = "sudo sh -c '{{ .Vars }} {{ .Path }}'"
    inline = [
      "rm -f /var/cache/webtier/*.zip",
      "cloud-init clean --logs",
      "truncate -s 0 /etc/machine-id",
      "rm -f /var/lib/dbus/machine-id",
    ]
  }

  post-processor "manifest" {
    output     = local.manifest_path
    strip_path = true
    custom_data = {
      layer        = source.name
      content_hash = var.content_hash
      git_revision = var.git_revision
      build_token  = var.build_token
    }
  }
}

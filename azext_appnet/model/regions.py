"""Azure regions: the names `--location` accepts, and the display names az users also type.

A static table rather than `az account list-locations`, which needs a login that joining a
cluster by kubeconfig does not. The product itself is in preview in a few regions only; this
extension runs the mesh itself, so it accepts every region (README lists the product's).
"""

# name -> display name, public cloud first, then the sovereign clouds.
REGIONS = {
    "australiacentral": "Australia Central", "australiacentral2": "Australia Central 2",
    "australiaeast": "Australia East", "australiasoutheast": "Australia Southeast",
    "austriaeast": "Austria East", "belgiumcentral": "Belgium Central",
    "brazilsouth": "Brazil South", "brazilsoutheast": "Brazil Southeast",
    "canadacentral": "Canada Central", "canadaeast": "Canada East",
    "centralindia": "Central India", "centralus": "Central US", "centraluseuap": "Central US EUAP",
    "chilecentral": "Chile Central", "eastasia": "East Asia", "eastus": "East US",
    "eastus2": "East US 2", "eastus2euap": "East US 2 EUAP", "francecentral": "France Central",
    "francesouth": "France South", "germanynorth": "Germany North",
    "germanywestcentral": "Germany West Central", "indonesiacentral": "Indonesia Central",
    "israelcentral": "Israel Central", "italynorth": "Italy North", "japaneast": "Japan East",
    "japanwest": "Japan West", "jioindiacentral": "Jio India Central",
    "jioindiawest": "Jio India West", "koreacentral": "Korea Central", "koreasouth": "Korea South",
    "malaysiawest": "Malaysia West", "mexicocentral": "Mexico Central",
    "newzealandnorth": "New Zealand North", "northcentralus": "North Central US",
    "northeurope": "North Europe", "norwayeast": "Norway East", "norwaywest": "Norway West",
    "polandcentral": "Poland Central", "qatarcentral": "Qatar Central",
    "southafricanorth": "South Africa North", "southafricawest": "South Africa West",
    "southcentralus": "South Central US", "southeastasia": "Southeast Asia",
    "southindia": "South India", "spaincentral": "Spain Central", "swedencentral": "Sweden Central",
    "swedensouth": "Sweden South", "switzerlandnorth": "Switzerland North",
    "switzerlandwest": "Switzerland West", "uaecentral": "UAE Central", "uaenorth": "UAE North",
    "uksouth": "UK South", "ukwest": "UK West", "westcentralus": "West Central US",
    "westeurope": "West Europe", "westindia": "West India", "westus": "West US",
    "westus2": "West US 2", "westus3": "West US 3",
    "usgovarizona": "USGov Arizona", "usgovtexas": "USGov Texas", "usgovvirginia": "USGov Virginia",
    "usdodcentral": "USDoD Central", "usdodeast": "USDoD East",
    "chinaeast": "China East", "chinaeast2": "China East 2", "chinaeast3": "China East 3",
    "chinanorth": "China North", "chinanorth2": "China North 2", "chinanorth3": "China North 3",
}

#: Where Azure Kubernetes Application Network itself is offered (its overview page).
PRODUCT_PREVIEW_REGIONS = ("centralus", "eastus2", "westus2", "westus3", "northeurope", "southeastasia")


def normalize(value):
    """The region name for what a user typed ('West US 2', 'WESTUS2', 'westus2' -> 'westus2'),
    or None when it names no region. Spaces and case are dropped as az drops them."""
    name = "".join(str(value or "").split()).lower()
    return name if name in REGIONS else None
